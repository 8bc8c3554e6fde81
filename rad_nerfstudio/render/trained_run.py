"""A trained talking-portrait run loaded for rendering or evaluation (no training images cached)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rad_nerfstudio.errors import InputFileError

if TYPE_CHECKING:  # the model's modules are imported when a run is loaded, not with this module
    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManager
    from rad_nerfstudio.models.rad_nerf import RadNerfModel


@dataclass
class TrainedRun:
    model: "RadNerfModel"
    datamanager: "TalkingPortraitDataManager"
    checkpoint: Path
    step: int


def check_run_config(config: Path) -> None:
    if not Path(config).is_file():
        raise InputFileError(config, "does not exist (the training run's config.yml)")


def load_trained_run(config: Path) -> TrainedRun:
    """The run's model (in eval mode, on CUDA when available) and data manager, from its latest checkpoint."""
    from nerfstudio.utils.eval_utils import eval_setup

    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManager
    from rad_nerfstudio.models.rad_nerf import RadNerfModel

    check_run_config(config)
    # nerfstudio's camera indexing warns on every frame with torch >= 2.9; it is not ours to fix.
    warnings.filterwarnings("ignore", "Using a non-tuple sequence for multidimensional indexing", UserWarning)
    _, pipeline, checkpoint, step = eval_setup(Path(config), test_mode="inference")
    model, datamanager = pipeline.model, pipeline.datamanager
    if not isinstance(model, RadNerfModel) or not isinstance(datamanager, TalkingPortraitDataManager):
        raise InputFileError(config, f"is a {type(model).__name__} run, not a talking-portrait one")
    return TrainedRun(model, datamanager, Path(checkpoint), step)
