"""Outputs are whole or absent: a killed rad-process resumes from its last finished step and never finds a
half-written step marked done; a killed or failing mp4 writer leaves no .mp4; a full disk is a clear error."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from rad_nerfstudio.errors import OutputFileError
from rad_nerfstudio.io.atomic import atomic_path, write_text_atomic
from rad_nerfstudio.io.video import Mp4Writer
from rad_nerfstudio.process.steps import Step, StepRunner

QUIET = Console(file=open(os.devnull, "w"))


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _runner(state: Path, log: list, fail_in: str | None = None, force=()) -> StepRunner:
    def make(name: str) -> Step:
        def run() -> str:
            log.append(name)
            if name == fail_in:
                raise KeyboardInterrupt  # Ctrl-C halfway through the step
            return f"{name} done"

        return Step(name, run, {"option": 1})

    return StepRunner(state, [make(n) for n in ("frames", "audio-features", "landmarks", "poses")], force, QUIET)


def test_an_interrupted_step_is_not_marked_done_and_the_next_run_resumes_there(tmp_path):
    log: list = []
    _runner(tmp_path, log).run()
    with pytest.raises(KeyboardInterrupt):
        _runner(tmp_path, log, fail_in="landmarks", force=["audio-features"]).run()
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == ["audio-features", "frames"], "only finished steps"
    log.clear()
    _runner(tmp_path, log).run()
    assert log == ["landmarks", "poses"], "resumes from the step that was interrupted"


def test_a_forced_step_that_is_interrupted_is_redone_next_time(tmp_path):
    """Its old record (same settings) used to survive, so the next run skipped the half-redone step."""
    log: list = []
    _runner(tmp_path, log).run()
    with pytest.raises(KeyboardInterrupt):
        _runner(tmp_path, log, fail_in="frames", force=["frames"]).run()
    assert not list(tmp_path.glob("*.json")), "every later step depends on the half-written frames"
    log.clear()
    _runner(tmp_path, log).run()
    assert log == ["frames", "audio-features", "landmarks", "poses"]


@pytest.mark.slow
def test_a_killed_rad_process_run_resumes_from_its_last_finished_step(tmp_path):
    """SIGKILL (no clean-up at all) in the middle of the third step of a real process."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from rich.console import Console
        from rad_nerfstudio.process.steps import Step, StepRunner
        from rad_nerfstudio.io.atomic import write_text_atomic
        out = Path({str(tmp_path)!r})
        def make(name, seconds):
            def run():
                write_text_atomic(out / (name + ".started"), "")
                time.sleep(seconds)
                return name
            return Step(name, run)
        slow = float(sys.argv[1])
        steps = [make("frames", 0), make("audio-features", 0), make("landmarks", slow), make("poses", 0)]
        StepRunner(out / "state", steps, [], Console()).run()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script, "60"])
    deadline = time.monotonic() + 60
    while not (tmp_path / "landmarks.started").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert sorted(p.stem for p in (tmp_path / "state").glob("*.json")) == ["audio-features", "frames"]
    for name in ("frames", "audio-features", "landmarks"):
        (tmp_path / f"{name}.started").unlink()
    result = subprocess.run([sys.executable, "-c", script, "0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "frames: done before, skipped" in result.stdout and "audio-features: done before, skipped" in result.stdout
    assert sorted(p.name for p in tmp_path.glob("*.started")) == ["landmarks.started", "poses.started"]


def test_a_full_disk_is_a_clear_error_and_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out" / "record.json"
    write_text_atomic(target, "old")
    monkeypatch.setattr(Path, "write_text", _no_space)
    with pytest.raises(OutputFileError) as info:
        write_text_atomic(target, "new")
    assert str(target) in str(info.value) and "No space left on device" in str(info.value)
    monkeypatch.undo()
    assert target.read_text() == "old", "the previous file is untouched"
    assert [p.name for p in target.parent.iterdir()] == ["record.json"], "no temporary file left"
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "other.txt"):
        raise RuntimeError("any other failure")
    assert not (tmp_path / "other.txt").exists()


def _frames(count: int) -> list[np.ndarray]:
    return [np.full((32, 48, 3), 10 * k, np.uint8) for k in range(count)]


def test_an_mp4_on_a_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    import av.container

    path = tmp_path / "renders" / "talk.mp4"
    writer = Mp4Writer(path, 48, 32, 25, np.zeros(16000, np.float32))
    writer.write(_frames(1)[0])
    monkeypatch.setattr(av.container.OutputContainer, "mux", _no_space)
    with pytest.raises(OutputFileError) as info, writer:
        for frame in _frames(5):
            writer.write(frame)
    assert str(path) in str(info.value) and "No space left on device" in str(info.value)
    assert not list(path.parent.iterdir()), "no mp4 and no partial file"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_render_leaves_no_mp4(tmp_path, signum):
    """The writer of rad-render, killed while writing: SIGTERM cleans up; SIGKILL leaves only a hidden .partial."""
    script = textwrap.dedent(
        f"""
        import numpy as np
        from pathlib import Path
        from rad_nerfstudio.io.video import Mp4Writer
        from rad_nerfstudio.engine.stop_signals import exit_cleanly_on_sigterm
        exit_cleanly_on_sigterm()
        with Mp4Writer(Path({str(tmp_path / "talk.mp4")!r}), 48, 32, 25) as writer:
            for k in range(100000):
                writer.write(np.full((32, 48, 3), k % 255, np.uint8))
                if k == 10:
                    Path({str(tmp_path / "started")!r}).touch()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
        time.sleep(0.02)
    process.send_signal(signum)
    process.wait(timeout=30)
    assert process.returncode != 0
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "started")
    assert not [name for name in left if name.endswith(".mp4")], left
    if signum == signal.SIGTERM:
        assert left == [], "SIGTERM runs the writer's clean-up"
    else:
        assert len(left) == 1 and left[0].startswith(".talk.mp4.") and left[0].endswith(".partial"), left
