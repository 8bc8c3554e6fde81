"""Viewer controls of a talking portrait: audio frame, eye openness, smoothing, torso and background.

nerfstudio's viewer installs every ``ViewerElement`` it finds on the model's modules ("Custom Elements") and
re-renders when one changes; each element here writes its value into the :class:`RenderControls` that the
model applies to viewer cameras (cameras without a dataset frame).
"""

from __future__ import annotations

import threading
from typing import Tuple

import torch
from jaxtyping import Float
from nerfstudio.viewer.viewer_elements import ViewerCheckbox, ViewerDropdown, ViewerRGB, ViewerSlider
from torch import Tensor, nn

from rad_nerfstudio.render.controls import RenderControls


class PortraitViewerControls(nn.Module):
    """GUI elements (no parameters) bound to ``self.controls``."""

    def __init__(self, eye: Float[Tensor, " frames"], default_frame: int, plate_shape: Tuple[int, int]) -> None:
        super().__init__()
        self.controls = RenderControls()
        self._sync_lock = threading.Lock()
        self._eye = eye.detach().cpu()
        self._plate_shape = plate_shape
        self.audio_frame = ViewerSlider(
            "Audio frame", default_frame, 0, len(eye) - 1, 1, cb_hook=self._sync, hint="Whose audio drives the mouth"
        )
        self.audio_smoothing = ViewerSlider(
            "Audio smoothing", 0.0, 0.0, 0.95, 0.05, cb_hook=self._sync, hint="Momentum over the preceding frames"
        )
        self.eye_from_frame = ViewerCheckbox("Eye from the audio frame", True, cb_hook=self._sync)
        self.eye = ViewerSlider("Eye openness", 1.0, 0.0, 1.5, 0.05, cb_hook=self._sync)
        self.torso = ViewerCheckbox("Torso", True, cb_hook=self._sync)
        self.background = ViewerDropdown("Background", "dataset", ["dataset", "colour"], cb_hook=self._sync)
        self.background_color = ViewerRGB("Background colour", (255, 255, 255), cb_hook=self._sync)
        self._sync()

    def _sync(self, _element: object = None) -> None:
        """Copy every element's value into ``self.controls``. viser calls back on worker threads, so syncs are
        serialised (the last one reads the latest values) and each field is assigned its final value only."""
        with self._sync_lock:
            frame = int(self.audio_frame.value)
            background = None
            if self.background.value == "colour":
                color = torch.tensor(self.background_color.value, dtype=torch.uint8)
                background = color.expand(*self._plate_shape, 3)
            c = self.controls
            c.audio_frame = frame
            c.audio_smoothing = float(self.audio_smoothing.value)
            c.eye = float(self._eye[frame] if self.eye_from_frame.value else self.eye.value)
            c.torso = bool(self.torso.value)
            c.background = background
