"""Ctrl-C during a real ns-train run saves a checkpoint from which --load-dir resumes exactly where it stopped: the
interrupted, resumed run ends bit for bit where an uninterrupted one does (weights, optimizer, EMA, error maps)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from rad_nerfstudio.engine.checkpoints import checkpoint_step
from rad_nerfstudio.engine.commands import ns_train_command
from rad_nerfstudio.engine.stop_signals import StopRequests
from tests.conftest import TINY_RUN_ARGS

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""The runs compared bit for bit run on one thread each: multi-threaded CPU reductions may sum in another order."""
STEPS = 10
"""Head steps 0-1, lips 2-3, torso 4-9."""
INTERRUPT_FROM = 3
"""The signal is sent once the checkpoint of this step exists (the run then stops at this step or a later one)."""


def _ns_train(data: Path, output: Path, *extra: str) -> list[str]:
    return [
        *ns_train_command("rad-nerf-small", data, output),
        "--timestamp",
        "t",
        "--max-num-iterations",
        str(STEPS),
        *TINY_RUN_ARGS,
        "--pipeline.datamanager.pixel-sampler.kind",
        "error-map",
        "--steps-per-save",
        "1",
        "--save-only-latest-checkpoint",
        "False",
        "--steps-per-eval-batch",
        "1000",
        "--steps-per-eval-image",
        "1000",
        *extra,
    ]


def _checkpoints(output: Path, data: Path) -> dict[int, Path]:
    folder = output / data.name / "rad-nerf-small" / "t" / "nerfstudio_models"
    found = {checkpoint_step(p): p for p in folder.glob("step-*.ckpt")} if folder.is_dir() else {}
    return {step: path for step, path in found.items() if step is not None}


def _assert_same(a: Any, b: Any, where: str) -> None:
    """Nested checkpoint content equal, tensors bit for bit (NaN where NaN: unvisited error-map cells)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape, where
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True, msg=lambda m: f"{where}: {m}")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {set(a) ^ set(b)}"
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{k}]")
    else:
        assert a == b, f"{where}: {a} != {b}"


def _load(path: Path) -> dict:
    import rad_nerfstudio.method_configs  # noqa: F401  (allow-lists nerfstudio's numpy learning rates)

    return torch.load(path, map_location="cpu")


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_that_resumes_like_an_uninterrupted_run(sample_dir, tmp_path):
    from rad_nerfstudio.audio.features import resolve_audio_features
    from rad_nerfstudio.method_configs import SMALL_AUDIO_FEATURES

    data = Path(shutil.copytree(sample_dir, tmp_path / "portrait"))
    resolve_audio_features(data, SMALL_AUDIO_FEATURES, 100)  # both runs read the same cache
    whole, stopped, resumed = tmp_path / "whole", tmp_path / "stopped", tmp_path / "resumed"
    logs = {name: tmp_path / f"{name}.log" for name in ("whole", "stopped")}
    with open(logs["whole"], "w") as whole_log, open(logs["stopped"], "w") as stopped_log:
        reference = subprocess.Popen(_ns_train(data, whole), stdout=whole_log, stderr=subprocess.STDOUT, env=ONE_THREAD)
        run = subprocess.Popen(_ns_train(data, stopped), stdout=stopped_log, stderr=subprocess.STDOUT, env=ONE_THREAD)
        deadline = time.monotonic() + 300
        while max(_checkpoints(stopped, data), default=-1) < INTERRUPT_FROM and run.poll() is None:
            assert time.monotonic() < deadline, "the run never reached the interrupt point"
            time.sleep(0.02)
        run.send_signal(signal.SIGINT)
        run.wait(timeout=300)
        reference.wait(timeout=300)
    log = logs["stopped"].read_text()
    assert reference.returncode == 0, logs["whole"].read_text()[-3000:]
    assert run.returncode == 128 + signal.SIGINT, log[-3000:]
    stop = max(_checkpoints(stopped, data))
    assert stop < STEPS - 1, "interrupted before the end"
    assert f"Training stopped after step {stop}" in " ".join(log.split()), log[-3000:]

    # the checkpoint the signal left is the uninterrupted run's state after the same step
    interrupted = _load(_checkpoints(stopped, data)[stop])
    _assert_same(interrupted, _load(_checkpoints(whole, data)[stop]), f"step {stop}")
    assert "_model.ema.shadow_0" in interrupted["pipeline"]
    assert "datamanager.train_pixel_sampler.error_map" in interrupted["pipeline"]

    left = STEPS - stop - 1
    folder = _checkpoints(stopped, data)[stop].parent
    command = _ns_train(data, resumed, "--load-dir", str(folder), "--max-num-iterations", str(left))
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=ONE_THREAD)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Restored the random number generators' states" in result.stdout
    assert min(_checkpoints(resumed, data)) == stop + 1, "resumed at the next step"
    final = _load(_checkpoints(resumed, data)[STEPS - 1])
    _assert_same(final, _load(_checkpoints(whole, data)[STEPS - 1]), f"step {STEPS - 1}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_is_a_request_and_a_second_one_quits(signum):
    from rich.console import Console

    requests = StopRequests(Console(file=open("/dev/null", "w")))
    previous = signal.getsignal(signum)
    with requests:
        signal.raise_signal(signum)
        assert requests.requested == signum, "the first signal only asks"
        with pytest.raises(SystemExit) as info:
            signal.raise_signal(signum)
        assert info.value.code == 128 + signum
    assert signal.getsignal(signum) == previous, "the handlers are given back"
