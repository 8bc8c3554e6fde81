"""Training stages of one run: head, lips fine-tune, torso (head frozen)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stage = Literal["head", "lips", "torso"]


@dataclass
class StageSchedule:
    """Step ranges: ``[0, head)`` head, ``[head, head + lips)`` lips, then torso (if enabled)."""

    head_steps: int
    lips_steps: int
    train_torso: bool = True

    def stage_at(self, step: int) -> Stage:
        if step < self.head_steps:
            return "head"
        if step < self.head_steps + self.lips_steps or not self.train_torso:
            return "lips" if self.lips_steps > 0 else "head"
        return "torso"
