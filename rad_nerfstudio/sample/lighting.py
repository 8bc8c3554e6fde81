"""The light of the synthetic portrait: one key light fixed in the camera frame plus ambient light."""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

LIGHT_DIRECTION = np.array([-0.45, 0.55, 0.7]) / np.linalg.norm([-0.45, 0.55, 0.7])
"""Key light, camera frame, from the upper left in front of the subject."""
AMBIENT = 0.32


def diffuse(normals_cam: Float[np.ndarray, "n 3"]) -> Float[np.ndarray, "n 1"]:
    """Ambient plus Lambert shading of unit normals (camera frame)."""
    lambert = np.clip(normals_cam @ LIGHT_DIRECTION, 0.0, None)[:, None]
    return AMBIENT + (1.0 - AMBIENT) * lambert
