"""rad-process's fixture: the sample's raw video processed once per test session."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def processed(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """rad-process on the sample's raw video (a copy, so that its bytes can be checked afterwards)."""
    root = tmp_path_factory.mktemp("process")
    video = Path(shutil.copy(sample_dir / "raw" / "video.mp4", root / "talk.mp4"))
    before = _digest(video)
    # no pose pass (the default's one trains a head for minutes): test_pose_passes.py runs short ones
    command = [str(BIN / "rad-process"), "--video", str(video), "--output-dir", str(root / "dataset")]
    command += ["--refine-poses", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert _digest(video) == before, "the input video is only read"
    return {"root": root / "dataset", "video": video, "stdout": result.stdout}
