"""Per-frame tables a talking-portrait model indexes by ``frame_idx`` (never per-pixel batch data)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from jaxtyping import Float, Int, UInt8
from torch import Tensor

PORTRAIT_METADATA_KEY = "portrait"
"""Key of the :class:`PortraitTables` in the dataparser outputs' (and so the model's) metadata."""
FRAME_INDEX_KEY = "frame_idx"
"""Camera / ray-bundle metadata key holding each camera's row in the tables (``[N, 1]`` long)."""
PIXEL_KEY = "pixel"
"""Ray metadata: (row, column) of the ray's pixel in the training image (float)."""
BACKGROUND_KEY = "background"
"""Ray metadata: colour behind the head in the head stages (the frame's torso image over the background plate)."""
TORSO_POSE_KEY = "torso_pose"
"""Ray metadata of whole-image renders: the head pose that conditions the torso (flattened 3x4; the camera's as given
or refined, ``PortraitModelConfig.torso_pose``)."""
HEAD_POSE_KEY = "head_pose"
"""Ray metadata of whole-image renders: the head pose the rays follow (refined where the frame's is; flattened 3x4)."""
HEAD_MASK_KEY = "head_mask"
"""Training batch key: 1 where the ray's pixel is head in the frame's parsing, else 0 (float)."""
LIPS_PATCH_KEY = "lips_patch"
"""Training batch key present when the batch is one square lips patch (value: its side), row-major."""
RECT_NAMES = ("face", "lower_face", "eyes", "lips", "mouth")


@dataclass
class PortraitTables:
    """Everything per frame of a dataset (train and val together, so any split indexes the same rows)."""

    img_ids: Int[Tensor, " frames"]
    splits: Dict[str, Int[Tensor, " split_frames"]]
    """Rows of each split."""
    audio_windows: Float[Tensor, "audio_frames 16 dim"]
    """The whole audio track: one window per audio frame (``aud_id``)."""
    audio_index: Int[Tensor, " frames"]
    """Row of ``audio_windows`` for each frame (its ``aud_id``, clamped to the track)."""
    audio_extractor: str
    """How the audio features were made; driving audio must be processed the same way."""
    eye: Float[Tensor, " frames"]
    """Eye openness: about 1 open, 0 closed."""
    eye_source: str
    rects: Dict[str, Int[Tensor, "frames 4"]]
    """``(x0, y0, x1, y1)`` half-open pixel rectangles: face, lower_face, eyes, lips (square), mouth (tight)."""
    head_poses: Float[Tensor, "frames 3 4"]
    """Camera-to-world in nerfstudio's world (the dataparser's scale applied): the head pose seen from the camera."""
    torso_paths: List[Path]
    background: UInt8[Tensor, "height width 3"]
    fps: float
    mouth_shape: Float[Tensor, "frames 2"] | None = None
    """The landmarks' mouth opening and width (``data.landmarks.mouth_shape``): what the audio code is taught to
    predict; None: not known."""
    mouth_region: Float[Tensor, "2 3"] | None = None
    """Box (min, max corners, world units) around the mouth and chin where the audio may act; None: anywhere."""

    @property
    def audio_dim(self) -> int:
        return int(self.audio_windows.shape[-1])

    @property
    def num_frames(self) -> int:
        return int(self.img_ids.shape[0])
