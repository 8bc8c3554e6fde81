"""Command lines of this environment's tools, built in one place for the tests and the benchmarks: ``ns-train`` of a
talking-portrait method, the LPIPS setting that works offline, and running a command with its output in a log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence

BIN = Path(sys.executable).parent
"""Where this environment's commands are (ns-train, rad-eval, ...)."""


def ns_train_command(method: str, data: Path | str, output_dir: Path | str, *extra: str) -> List[str]:
    """``ns-train METHOD --data DATA`` logging to tensorboard into ``output_dir`` (no viewer), then ``extra``."""
    return [
        str(BIN / "ns-train"),
        method,
        "--data",
        str(data),
        "--vis",
        "tensorboard",
        "--output-dir",
        str(output_dir),
    ] + [str(part) for part in extra]


def lpips_flags() -> List[str]:
    """LPIPS on a random trunk where its ImageNet weights cannot be had (as the demo does), else nothing."""
    from rad_nerfstudio.model_components.lpips_net import Lpips

    try:
        Lpips()
    except RuntimeError:
        return ["--pipeline.model.lpips-pretrained", "False"]
    return []


def run_logged(command: Sequence[object], log: Path, env: Dict[str, str] | None = None) -> float:
    """Run a command (paths allowed) with its output in ``log``; its wall time in seconds (a failure raises, naming
    the log)."""
    parts = [str(part) for part in command]
    start = time.perf_counter()
    with open(log, "w") as handle:
        result = subprocess.run(parts, stdout=handle, stderr=subprocess.STDOUT, env=env or dict(os.environ))
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(parts[:3])} ... failed; see {log}")
    return time.perf_counter() - start
