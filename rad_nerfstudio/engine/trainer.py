"""nerfstudio's trainer with three guarantees: a stop signal saves a resumable checkpoint, checkpoints are never
half-written, and a checkpoint given to ``--load-dir`` is checked before it is loaded.

Ctrl-C (SIGINT) or SIGTERM during any stage lets the current iteration finish (its after-iteration callbacks too:
EMA, error maps), saves with nerfstudio's own ``save_checkpoint`` and exits with status 128 + the signal's number.
``ns-train ... --load-dir RUN/nerfstudio_models`` then resumes at the next step with the same weights, optimizer
state, EMA, error maps and random number generators (an uninterrupted run and a resumed one train identically).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from nerfstudio.engine.callbacks import TrainingCallback, TrainingCallbackLocation
from nerfstudio.engine.trainer import Trainer
from nerfstudio.utils import writer
from nerfstudio.utils.rich_utils import CONSOLE

from rad_nerfstudio.engine import rng_states
from rad_nerfstudio.engine.checkpoints import check_checkpoint_fits, checkpoint_step, find_checkpoint, read_checkpoint
from rad_nerfstudio.engine.stage_plan import fit_run_length_to_stages, fit_schedulers_to_stages, steps_left
from rad_nerfstudio.engine.stop_signals import StopRequests


class TalkingPortraitTrainer(Trainer):
    """The trainer of every talking-portrait method."""

    _stop: StopRequests | None = None
    _run_length_from_stages: bool = False

    def setup(self, test_mode: Literal["test", "val", "inference"] = "val") -> None:
        fit_schedulers_to_stages(self.config)
        self._run_length_from_stages = fit_run_length_to_stages(self.config)
        super().setup(test_mode)
        # last, so that the model's after-iteration callbacks (EMA, error maps) have run when it saves
        self.callbacks.append(TrainingCallback([TrainingCallbackLocation.AFTER_TRAIN_ITERATION], self._stop_if_asked))

    def train(self) -> None:
        if rng_states.attach(self.pipeline).apply_pending():
            CONSOLE.print("Restored the random number generators' states of the checkpoint")
        if self._run_length_from_stages:
            self.config.max_num_iterations = steps_left(self.config, self._start_step)
        self._stop = StopRequests(CONSOLE, on_request=self._unpause)
        with self._stop:
            super().train()

    def _unpause(self) -> None:
        """A paused run (viewer) trains one more iteration so that it stops at a consistent point."""
        if self.training_state == "paused":
            self.training_state = "training"

    def _stop_if_asked(self, step: int) -> None:
        if self._stop is None or self._stop.requested is None:
            return
        self.save_checkpoint(step)
        writer.write_out_storage()
        path = self.checkpoint_dir / f"step-{step:09d}.ckpt"
        left = self._start_step + self.config.max_num_iterations - step - 1
        # a run whose length follows its stages resumes to their end by itself; an explicit length counts on
        resume = "" if self._run_length_from_stages else f" --max-num-iterations {left} (the steps this run had left)"
        CONSOLE.print(
            f"[bold yellow]Training stopped after step {step}: saved {path}. Resume with the same command plus "
            f"--load-dir {self.checkpoint_dir}{resume}"
        )
        raise SystemExit(128 + self._stop.requested)

    def _after_train(self) -> None:
        if self._stop is not None:
            self._stop.restore()  # Ctrl-C quits the viewer once training has finished
        super()._after_train()

    def save_checkpoint(self, step: int) -> None:
        """nerfstudio's checkpoint, written in a hidden folder beside the checkpoint folder and renamed into it."""
        final_dir = self.checkpoint_dir
        final_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".checkpoint-", suffix=".partial", dir=final_dir.parent))
        try:
            self.checkpoint_dir = staging
            super().save_checkpoint(step)
            self.checkpoint_dir = final_dir
            name = f"step-{step:09d}.ckpt"
            os.replace(staging / name, final_dir / name)
            if self.config.save_only_latest_checkpoint:
                for old in final_dir.glob("step-*.ckpt"):
                    if old.name != name and checkpoint_step(old) is not None:
                        old.unlink()
        finally:
            self.checkpoint_dir = final_dir
            shutil.rmtree(staging, ignore_errors=True)

    def _load_checkpoint(self) -> None:
        """Check the checkpoint that ``--load-dir`` / ``--load-checkpoint`` names, then let nerfstudio load it."""
        rng_states.attach(self.pipeline)  # before loading: the checkpoint's random states load into it
        if self.config.load_dir is not None:
            path = find_checkpoint(self.config.load_dir, self.config.load_step)
            self.config.load_step = checkpoint_step(path)  # nerfstudio would parse every file name in the folder
        elif self.config.load_checkpoint is not None:
            path = self.config.load_checkpoint
        else:
            return super()._load_checkpoint()
        state = read_checkpoint(path)
        check_checkpoint_fits(path, state, self.pipeline, self.config.method_name or "this")
        del state
        super()._load_checkpoint()
