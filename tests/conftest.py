"""Shared fixtures: small synthetic samples generated once per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rad_nerfstudio.engine.commands import ns_train_command
from rad_nerfstudio.sample.generate import SampleSummary, generate_sample


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each worker (and the commands it starts) gets its share of the cores, not all of them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        os.environ.setdefault("OMP_NUM_THREADS", threads)
        os.environ.setdefault("MKL_NUM_THREADS", threads)
        import torch

        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(autouse=True)
def _seeded_random_numbers() -> None:
    """Every test draws the same random inputs on every run and every worker (a tolerance holds or fails for good)."""
    import random

    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


SAMPLE_KWARGS = dict(seconds=4.0, size=96, seed=3, speech="formant", workers=1)


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleSummary:
    """A 4 s, 96 px sample with the built-in speech engine (deterministic on any machine)."""
    return generate_sample(tmp_path_factory.mktemp("sample") / "portrait", **SAMPLE_KWARGS)


@pytest.fixture(scope="session")
def sample_dir(sample: SampleSummary) -> Path:
    return sample.output_dir


@pytest.fixture
def dataset(sample_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the sample (tests may add feature files or break it on purpose)."""
    return Path(shutil.copytree(sample_dir, tmp_path / "dataset"))


TINY_RUN_ARGS = (
    "--pipeline.model.head-steps",
    "2",
    "--pipeline.model.lips-steps",
    "2",
    "--pipeline.model.lpips-pretrained",
    "False",
    "--pipeline.datamanager.pixel-sampler.num-rays-per-batch",
    "128",
)
"""ns-train arguments of a run with every stage in a few steps: 2 head, 2 lips, then torso; 128 rays a batch."""


def train_small_run(method: str, sample_dir: Path, root: Path) -> Path:
    """config.yml of a 4-step ``method`` run (2 head steps, 2 torso steps) on ``root/portrait``, a copy of the
    sample; the config is ``root/outputs/portrait/<method>/t/config.yml``."""
    data = Path(shutil.copytree(sample_dir, root / "portrait"))
    command = [
        *ns_train_command(method, data, root / "outputs"),
        "--timestamp",
        "t",
        "--max-num-iterations",
        "4",
        "--pipeline.model.head-steps",
        "2",
        "--pipeline.model.lips-steps",
        "0",
        "--pipeline.datamanager.pixel-sampler.num-rays-per-batch",
        "128",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root / "outputs" / "portrait" / method / "t" / "config.yml"


@pytest.fixture(scope="session")
def trained_run(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-step rad-nerf-small run (see ``train_small_run``)."""
    return train_small_run("rad-nerf-small", sample_dir, tmp_path_factory.mktemp("render_run"))
