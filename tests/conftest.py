"""Shared fixtures: small synthetic samples generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from rad_nerfstudio.sample.generate import SampleSummary, generate_sample

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
    import shutil

    return Path(shutil.copytree(sample_dir, tmp_path / "dataset"))
