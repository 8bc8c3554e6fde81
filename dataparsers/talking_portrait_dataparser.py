"""The ``talking-portrait-data`` dataparser: RAD-NeRF / ER-NeRF processed datasets (and ``rad-sample``'s)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Literal, Tuple, Type

import torch
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.data.dataparsers.base_dataparser import DataParser, DataParserConfig, DataparserOutputs
from nerfstudio.data.scene_box import SceneBox
from nerfstudio.plugins.registry_dataparser import DataParserSpecification

from rad_nerfstudio.constants import VIDEO_FPS
from rad_nerfstudio.data.portrait_tables import PORTRAIT_METADATA_KEY, PortraitTables


@dataclass
class TalkingPortraitDataParserConfig(DataParserConfig):
    """Talking-portrait dataset in the RAD-NeRF / ER-NeRF processed layout."""

    _target: Type = field(default_factory=lambda: TalkingPortraitDataParser)
    data: Path = Path()
    """Dataset folder (transforms_train.json, transforms_val.json, gt_imgs/, ori_imgs/, torso_imgs/, aud.wav, ...)."""
    poses: Path | None = None
    """A folder whose transforms_train.json / transforms_val.json replace the dataset's: the head poses refined by
    ``rad-export-poses`` or ``rad-process --refine-poses`` (its ``landmark_poses/`` holds the landmark fit's)."""
    audio_features: str = "auto"
    """auto, mel, phones, wav2vec2, hubert, deepspeech, esperanto, or a path to an .npy (auto: an existing anchors' npy,
    else mel features computed from aud.wav and cached in the dataset as aud_mel.npy)."""
    eye_feature: Literal["landmarks", "au45"] = "landmarks"
    """Eye openness from the landmarks' eye areas (RAD-NeRF), or from OpenFace's au.csv AU45_r (ER-NeRF)."""
    eye_smoothing: int = 0
    """Moving-average window over frames for the eye feature (0 or 1: none; ER-NeRF uses 3)."""
    downscale_factor: int = 1
    """Divide the image resolution by this factor."""
    frame_range: Tuple[int, int] | None = None
    """Keep only frames with START <= img_id < END."""
    background: str = "dataset"
    """Background behind the portrait: dataset (bc.jpg), white, black, green, grey, #rrggbb, r,g,b or an image path."""
    scene_scale: float = 4.0
    """Metres to scene units: the head (about 0.2 m) then sits well inside the unit scene box."""
    scene_bound: float = 1.0
    """Half-size of the scene box around the head, in scene units."""
    lips_min_size: int = 32
    """Smallest side of the square lips rectangle in pixels (LPIPS patches need 32)."""
    fps: float = VIDEO_FPS
    """Video frame rate of the dataset."""


class TalkingPortraitDataParser(DataParser):
    """Reads the processed layout into nerfstudio cameras plus per-frame tables (audio, eye, rects, poses)."""

    config: TalkingPortraitDataParserConfig

    def __init__(self, config: TalkingPortraitDataParserConfig):
        super().__init__(config)
        self._tables: PortraitTables | None = None
        self._cameras: Cameras | None = None
        self._image_paths: list[Path] = []

    def _build(self) -> None:
        from rad_nerfstudio.data.build_tables import build_portrait

        self._cameras, self._tables, self._image_paths = build_portrait(self.config)

    def _generate_dataparser_outputs(self, split: str = "train", **kwargs) -> DataparserOutputs:
        if self._tables is None:
            self._build()
        assert self._tables is not None and self._cameras is not None
        split_name = "train" if split == "train" else "val"
        rows = self._tables.splits[split_name]
        metadata: Dict = {PORTRAIT_METADATA_KEY: self._tables}
        bound = self.config.scene_bound
        return DataparserOutputs(
            image_filenames=[self._image_paths[int(r)] for r in rows],
            cameras=self._cameras[rows],
            scene_box=SceneBox(aabb=torch.tensor([[-bound] * 3, [bound] * 3], dtype=torch.float32)),
            metadata=metadata,
            dataparser_scale=self.config.scene_scale,
        )


talking_portrait_dataparser = DataParserSpecification(
    config=TalkingPortraitDataParserConfig(),
    description="talking-portrait dataset in the RAD-NeRF / ER-NeRF processed layout",
)
