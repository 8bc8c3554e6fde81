"""Training stages of one run: head, lips fine-tune, torso (head frozen)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, Tuple

Stage = Literal["head", "lips", "torso"]
MIN_TORSO_STEPS = 500
"""The torso stage's default length is a third of the head stage's, at least this many steps."""


class StagedModelConfig(Protocol):
    """The stage settings of a talking-portrait model config."""

    head_steps: int
    lips_steps: int
    torso_steps: int
    train_torso: bool


@dataclass
class StageSchedule:
    """Step ranges: ``[0, head)`` head, ``[head, head + lips)`` lips, then torso (if enabled) for ``torso_steps``."""

    head_steps: int
    lips_steps: int
    train_torso: bool = True
    torso_steps: int = 0
    """0: a third of the head steps, at least ``MIN_TORSO_STEPS``."""

    @classmethod
    def of(cls, config: StagedModelConfig) -> StageSchedule:
        return cls(config.head_steps, config.lips_steps, config.train_torso, config.torso_steps)

    @property
    def torso_start(self) -> int:
        return self.head_steps + self.lips_steps

    @property
    def torso_length(self) -> int:
        if not self.train_torso:
            return 0
        return self.torso_steps if self.torso_steps > 0 else max(MIN_TORSO_STEPS, self.head_steps // 3)

    @property
    def total_steps(self) -> int:
        """Steps of the whole run: head, lips and torso."""
        return self.torso_start + self.torso_length

    def head_training_points(self, count: int) -> Tuple[int, ...]:
        """``count`` steps evenly spaced through the stages that train the head (head and lips), the last where they
        end (the run's last step when no torso stage follows)."""
        return tuple(min(self.torso_start * k // count, self.total_steps - 1) for k in range(1, count + 1))

    def stage_at(self, step: int) -> Stage:
        if step < self.head_steps:
            return "head"
        if step < self.head_steps + self.lips_steps or not self.train_torso:
            return "lips" if self.lips_steps > 0 else "head"
        return "torso"
