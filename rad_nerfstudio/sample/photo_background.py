"""A photographic background plate: an out-of-focus crop of scikit-image's ``coffee.png``.

``skimage.data.coffee()`` (shipped inside the scikit-image wheel) is a photograph of a coffee cup on a wooden
counter, "courtesy of Pikolo Espresso Bar", CC0 by the photographer (Rachel Michetti) according to
scikit-image's data documentation. Blurred as by a portrait lens, it reads as a cafe behind the speaker.
"""

from __future__ import annotations

import cv2
import numpy as np
from jaxtyping import Float

SATURATION = 0.55
"""Colour saturation kept: the cafe's reds are calmed so that the speaker stands out."""
BACKGROUND_SOURCE = "scikit-image coffee.png (Rachel Michetti, CC0), cropped and defocused"
"""Recorded in ``gt/meta.json``."""


def photo_background(rng: np.random.Generator, size: int) -> Float[np.ndarray, "h w 3"]:
    """RGB background in [0, 1]: a random square crop, mirrored or not, defocused and lightly graded."""
    from skimage import data

    image = data.coffee().astype(np.float32) / 255.0  # 400 x 600
    side = int(rng.integers(240, 400))
    y0 = int(rng.integers(0, image.shape[0] - side + 1))
    x0 = int(rng.integers(0, image.shape[1] - side + 1))
    crop = image[y0 : y0 + side, x0 : x0 + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    plate = cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=cv2.INTER_AREA)
    plate = cv2.GaussianBlur(plate, (0, 0), size / 18.0)
    grey = plate.mean(axis=2, keepdims=True)
    plate = grey + SATURATION * (plate - grey)
    grade = rng.uniform(0.8, 1.15) * np.array([1.0, *rng.uniform(0.92, 1.08, size=2)], dtype=np.float32)
    grain = rng.normal(0.0, 0.01, size=(size, size, 1)).astype(np.float32)
    return np.clip(plate * grade + grain, 0.0, 1.0)
