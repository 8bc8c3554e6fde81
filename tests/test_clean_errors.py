"""Our input errors end a command with one red line naming the file and the problem, exit status 2 and no
traceback, under nerfstudio's ns-train (where our code runs as a plugin) and our own commands;
RAD_NERFSTUDIO_TRACEBACK=1 brings the traceback back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rad_nerfstudio.engine.commands import ns_train_command

pytestmark = pytest.mark.slow  # the project's commands, run end to end

BIN = Path(sys.executable).parent


def _run(command: list[str], traceback: bool, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "RAD_NERFSTUDIO_TRACEBACK"}
    if traceback:
        env["RAD_NERFSTUDIO_TRACEBACK"] = "1"
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


def _failed_with_a_traceback_only_if_asked(result: subprocess.CompletedProcess, traceback: bool, message: str) -> str:
    """The command failed; with ``traceback`` its output shows one and ``message``, else it exited 2 without one.
    Its whole output."""
    output = result.stdout + result.stderr
    assert result.returncode != 0
    if traceback:
        assert "Traceback" in output and message in output, output[-6000:]
    else:
        assert result.returncode == 2 and "Traceback" not in output, output[-3000:]
    return output


def _ns_train(data: Path, output: Path) -> list[str]:
    return ns_train_command("rad-nerf-small", data, output, "--max-num-iterations", "2")


@pytest.mark.parametrize("traceback", [False, True], ids=["clean", "traceback"])
def test_ns_train_without_aud_wav_prints_one_clear_line(dataset, tmp_path, traceback):
    (dataset / "aud.wav").unlink()
    result = _run(_ns_train(dataset, tmp_path / "outputs"), traceback)
    output = _failed_with_a_traceback_only_if_asked(result, traceback, "aud.wav: does not exist")
    if traceback:
        return
    lines = [line for line in result.stdout.splitlines() if "aud.wav" in line]
    assert len(lines) == 1 and lines[0].startswith("ns-train: ") and str(dataset / "aud.wav") in lines[0], output
    assert "does not exist" in lines[0]
    assert not list((tmp_path / "outputs").rglob("*.ckpt")), "it fails before any training"


@pytest.mark.parametrize("traceback", [False, True], ids=["clean", "traceback"])
def test_rad_process_with_a_missing_video_prints_one_clear_line(tmp_path, traceback):
    missing = tmp_path / "missing.mp4"
    command = [str(BIN / "rad-process"), "--video", str(missing), "--output-dir", str(tmp_path / "out")]
    result = _run(command, traceback, timeout=120)
    output = _failed_with_a_traceback_only_if_asked(result, traceback, "missing.mp4: does not exist")
    if traceback:
        return
    assert f"rad-process: {missing}: does not exist" in result.stdout, output
