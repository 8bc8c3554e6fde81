"""A trained talking-portrait run loaded for rendering or evaluation (no training images cached)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rad_nerfstudio.errors import InputFileError

if TYPE_CHECKING:  # the model's modules are imported when a run is loaded, not with this module
    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManager
    from rad_nerfstudio.models.portrait_model import PortraitModel


@dataclass
class TrainedRun:
    model: "PortraitModel"
    datamanager: "TalkingPortraitDataManager"
    checkpoint: Path
    step: int


def check_run_config(config: Path) -> None:
    if not Path(config).is_file():
        raise InputFileError(config, "does not exist (the training run's config.yml)")


def load_trained_run(config: Path) -> TrainedRun:
    """The run's model (in eval mode, on CUDA when available) and data manager, from its latest checkpoint.

    Like nerfstudio's ``eval_setup``, but the run's method is checked before anything is built and the checkpoint
    before it is loaded: a truncated, damaged or foreign one is refused naming the file and the mismatch.
    """
    import torch
    import yaml
    from nerfstudio.engine.trainer import TrainerConfig

    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManager
    from rad_nerfstudio.engine.checkpoints import check_checkpoint_fits, find_checkpoint, read_checkpoint
    from rad_nerfstudio.models.portrait_config import PortraitModelConfig
    from rad_nerfstudio.models.portrait_model import PortraitModel

    check_run_config(config)
    try:
        trainer_config = yaml.load(Path(config).read_text(), Loader=yaml.Loader)
    except (yaml.YAMLError, UnicodeDecodeError, ImportError, AttributeError) as err:
        raise InputFileError(config, f"cannot be read as a nerfstudio run's config ({err})") from err
    if not isinstance(trainer_config, TrainerConfig):
        raise InputFileError(config, "is not a nerfstudio run's config.yml")
    if not isinstance(trainer_config.pipeline.model, PortraitModelConfig):
        raise InputFileError(config, f"is a {trainer_config.method_name} run, not a talking-portrait one")
    checkpoint = find_checkpoint(trainer_config.get_checkpoint_dir())
    state = read_checkpoint(checkpoint)
    # nerfstudio's camera indexing warns on every frame with torch >= 2.9; it is not ours to fix.
    warnings.filterwarnings("ignore", "Using a non-tuple sequence for multidimensional indexing", UserWarning)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    pipeline = trainer_config.pipeline.setup(device=device, test_mode="inference")
    pipeline.eval()
    check_checkpoint_fits(checkpoint, state, pipeline, trainer_config.method_name or "this")
    pipeline.load_pipeline(state["pipeline"], state["step"])
    model, datamanager = pipeline.model, pipeline.datamanager
    assert isinstance(model, PortraitModel) and isinstance(datamanager, TalkingPortraitDataManager)
    return TrainedRun(model, datamanager, checkpoint, int(state["step"]))
