"""The mouth drawn over the photo, in the head frame of ``head_model.mouth_profile``: inside the open mouth a dark
cavity, upper teeth, the edges of the lower teeth and the tongue; on the lips a tint and the shadow where they
meet, which keeps closed lips readable in small frames."""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.sample.head_model import MOUTH_CENTER, FaceState, mouth_profile

CAVITY = np.array([0.13, 0.035, 0.04])
TONGUE = np.array([0.42, 0.15, 0.15])
TEETH = np.array([0.88, 0.85, 0.76])
UPPER_TEETH_HEIGHT = 0.0052
"""Visible height of the upper incisors below the upper lip (metres)."""
LOWER_TEETH_HEIGHT = 0.0018
LOWER_TEETH_GAP = 0.008
"""Lower teeth show only when the lips are this far apart (metres)."""
TOOTH_EDGES = np.array([0.0, 0.0043, 0.0078, 0.0104, 0.0128, 0.015])
"""Distances of the gaps between teeth from the middle of the mouth."""

LIP_TINT = np.array([0.97, 0.84, 0.86])
"""The photo's pale lips, a little redder."""
CONTACT_SHADOW = (0.45, 0.0007)
"""Darkening and width (metres) of the shadow along the inner edge of the lips."""


def lip_shading(xy: Float[np.ndarray, "n 2"], state: FaceState) -> Float[np.ndarray, "n 3"]:
    """Colour factors of lip points: the tint, and the shadow along the inner lip line."""
    _, inner_w, inner_top, inner_bottom, _, _ = mouth_profile(state)
    s = np.sqrt(np.clip(1.0 - ((xy[:, 0] - MOUTH_CENTER[0]) / inner_w) ** 2, 0.0, None))
    dy = xy[:, 1] - MOUTH_CENTER[1]
    distance = np.minimum(np.abs(dy - inner_top * s), np.abs(dy + inner_bottom * s))
    darkening, width = CONTACT_SHADOW
    return LIP_TINT * (1.0 - darkening * np.exp(-((distance / width) ** 2)))[:, None]


def mouth_interior(xy: Float[np.ndarray, "n 2"], state: FaceState) -> Float[np.ndarray, "n 3"]:
    """Colours of head-frame points between the inner lips."""
    _, inner_w, inner_top, inner_bottom, _, _ = mouth_profile(state)
    u = (xy[:, 0] - MOUTH_CENTER[0]) / inner_w
    s = np.sqrt(np.clip(1.0 - u**2, 0.0, None))
    top = MOUTH_CENTER[1] + inner_top * s
    bottom = MOUTH_CENTER[1] - inner_bottom * s
    below_top = top - xy[:, 1]
    above_bottom = xy[:, 1] - bottom
    gap = np.maximum(top - bottom, 1e-6)
    depth = np.clip(np.minimum(below_top, above_bottom) / (0.5 * gap), 0.0, 1.0)
    color = CAVITY * (1.0 - 0.45 * depth[:, None])
    tongue = above_bottom < 0.35 * gap * s
    color[tongue] = TONGUE * (0.55 + 0.45 * s[tongue, None])
    gaps = np.min(np.abs(np.abs(xy[:, None, 0] - MOUTH_CENTER[0]) - TOOTH_EDGES[None]), axis=1)
    tooth_shade = (0.15 + 0.85 * s**2) * (1.0 - 0.18 * np.exp(-((gaps / 0.0003) ** 2)))  # darker to the corners
    scallop = 1.0 - 0.15 * np.exp(-((gaps / 0.001) ** 2))  # tooth corners are rounded
    upper = below_top < UPPER_TEETH_HEIGHT * s**0.5 * scallop
    lip_shadow = np.clip(below_top / 0.0012, 0.35, 1.0)
    color[upper] = TEETH * (tooth_shade * lip_shadow)[upper, None]
    lower = (above_bottom < LOWER_TEETH_HEIGHT * s * scallop) & (gap > LOWER_TEETH_GAP)
    color[lower] = TEETH * 0.7 * tooth_shade[lower, None]
    return color
