"""Resumable processing steps: a finished step leaves a record and is skipped next time, unless forced, its
settings changed, or an earlier step ran again.

The record is written (atomically) only after the step's outputs, and the records of a step about to run and of
every step after it are removed first: a run killed halfway resumes from its last finished step and never finds a
half-written step marked done.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence

from rich.console import Console
from rich.table import Table

from rad_nerfstudio.io.atomic import write_text_atomic


@dataclass
class Step:
    """One step: ``run`` does the work and returns a one-line summary of what it produced."""

    name: str
    run: Callable[[], str]
    settings: Dict[str, Any] = field(default_factory=dict)
    """What the step's outputs depend on besides earlier steps (a change redoes it)."""


class StepRunner:
    """Runs steps in order, recording each under ``state_dir/<name>.json``."""

    def __init__(self, state_dir: Path, steps: Sequence[Step], force: Sequence[str], console: Console) -> None:
        names = [step.name for step in steps]
        unknown = sorted(set(force) - set(names))
        if unknown:
            raise ValueError(f"--force names unknown steps {unknown}; the steps are: {', '.join(names)}")
        self.state_dir = state_dir
        self.steps = steps
        self.force = set(force)
        self.console = console
        self.rows: List[tuple[str, str, float, str]] = []

    def _record(self, step: Step) -> Path:
        return self.state_dir / f"{step.name}.json"

    def _is_done(self, step: Step) -> bool:
        record = self._record(step)
        if step.name in self.force or not record.is_file():
            return False
        try:
            return json.loads(record.read_text()).get("settings") == json.loads(json.dumps(step.settings))
        except json.JSONDecodeError:
            return False

    def run(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        redo_rest = False
        for step in self.steps:
            if not redo_rest and self._is_done(step):
                summary = json.loads(self._record(step).read_text())["summary"]
                self.rows.append((step.name, "skipped (done)", 0.0, summary))
                self.console.print(f"[dim]{step.name}: done before, skipped ({summary})[/]")
                continue
            if not redo_rest:  # from here on every step runs: no record may claim a step done before it has run
                for later in self.steps[self.steps.index(step) :]:
                    self._record(later).unlink(missing_ok=True)
            redo_rest = True  # later steps read this one's outputs
            self.console.print(f"[bold]{step.name}[/]")
            start = time.perf_counter()
            summary = step.run()
            seconds = time.perf_counter() - start
            record = {"settings": step.settings, "summary": summary, "seconds": round(seconds, 2)}
            write_text_atomic(self._record(step), json.dumps(record, indent=2))
            self.rows.append((step.name, "ran", seconds, summary))
            self.console.print(f"{step.name}: {summary} ({seconds:.1f} s)")

    def summary_table(self) -> Table:
        table = Table(title="rad-process")
        for column in ("step", "status", "seconds", "result"):
            table.add_column(column)
        for name, status, seconds, summary in self.rows:
            table.add_row(name, status, f"{seconds:.1f}", summary)
        return table
