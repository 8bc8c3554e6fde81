"""Neck and torso of the photo look, from the photo's neck and suit.

Both map through the head's similarity transform at the rest pose. The neck takes the photo under the chin, so
skin runs into the black neck dam as in the photo (behind the head it repeats the neck, for the torso layer).
The torso takes the suit lower down (``SUIT_DROP``), where it shows the bottom of the neck ring as a collar and
the orange suit on the shoulders, mirrored about the ring's centre (the photo's image-right shoulder is backdrop
and a helmet).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.sample.face_photo import SUIT_MIRROR_U
from rad_nerfstudio.sample.motion import NECK_BASE_OFFSET
from rad_nerfstudio.sample.photo_sampling import sample_bilinear
from rad_nerfstudio.sample.photo_warp import apply_affine

NECK_TOP = -0.11
"""Head-frame height (metres) of the photo's neck just under the chin."""
SUIT_DROP = 0.073
"""Metres (in the photo's scale) below the rest position at which the torso samples the suit."""


def photo_torso_albedo(
    part: str, points: Float[np.ndarray, "n 3"], photo: Float[np.ndarray, "h w 3"], similarity: np.ndarray
) -> Float[np.ndarray, "n 3"]:
    """Colours of neck (``part == "neck"``) and torso points (torso frame) from the prefiltered photo."""
    head_xy = points[:, :2] + NECK_BASE_OFFSET[:2]
    if part == "neck":  # behind the head it repeats the neck under the chin, not the face
        head_xy[:, 1] = np.minimum(head_xy[:, 1], NECK_TOP)
    else:
        head_xy = head_xy - [0.0, SUIT_DROP]
    uv = apply_affine(similarity, head_xy)
    if part != "neck":
        uv[:, 0] = SUIT_MIRROR_U - np.abs(uv[:, 0] - SUIT_MIRROR_U)
    return sample_bilinear(photo, uv)
