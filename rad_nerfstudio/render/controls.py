"""What a full-image render of a portrait is conditioned on, beyond the camera."""

from __future__ import annotations

from dataclasses import dataclass

from jaxtyping import Float, UInt8
from torch import Tensor


@dataclass
class RenderControls:
    """Overrides of a frame's own conditions; ``None`` keeps the frame's (the default renders the dataset)."""

    audio_code: Float[Tensor, " code"] | None = None
    """An audio code computed elsewhere (a driving audio's, already smoothed)."""
    audio_frame: int | None = None
    """Use this dataset frame's audio (ignored when ``audio_code`` is given)."""
    audio_smoothing: float = 0.0
    """With ``audio_frame``: momentum over the codes of the frames before it (RAD-NeRF's test-time smoothing)."""
    eye: float | None = None
    """Eye openness (about 1 open, 0 closed)."""
    torso: bool = True
    """Show the torso (else the head floats over the background)."""
    background: UInt8[Tensor, "height width 3"] | None = None
    """Replaces the dataset's background plate (training resolution)."""
    refined_pose: bool = True
    """Dataset cameras take their frame's refined head pose (the model's pose corrections); False: the camera as
    given (a camera path, whose frame only names the torso image and the per-frame code)."""
