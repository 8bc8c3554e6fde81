"""The face photograph of the photo look and its control points.

The photo is scikit-image's ``astronaut.png`` (``skimage.data.astronaut()``, shipped inside the scikit-image
wheel): NASA's portrait of astronaut Eileen Collins, "no known copyright restrictions, released into the
public domain" (scikit-image's data documentation; from the NASA Great Images database). The tables below
were read off the photo once by ``scripts/derive_face_photo.py`` (MediaPipe's face mesh); generation does not
run MediaPipe.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import UInt8

PHOTO_SOURCE = "scikit-image astronaut.png: NASA portrait of Eileen Collins, public domain"
"""Recorded in ``gt/meta.json``."""
PHOTO_LANDMARKS = (
    (183.1, 100.6), (182.8, 111.7), (182.7, 123.0), (183.9, 134.4), (187.3, 145.3), (193.6, 154.9), (201.4, 163.5),
    (210.7, 170.4), (221.9, 172.9), (233.2, 171.0), (243.0, 164.9), (251.6, 157.2), (258.5, 148.0), (262.7, 137.4),
    (264.9, 126.1), (265.8, 114.8), (266.0, 103.6), (188.7, 91.5), (195.0, 88.5), (202.0, 88.3), (209.0, 89.7),
    (215.8, 91.7), (234.5, 93.3), (241.5, 92.2), (248.5, 91.6), (255.3, 92.5), (261.2, 96.2), (224.4, 100.0),
    (224.0, 108.4), (223.6, 116.8), (223.1, 125.3), (209.5, 127.5), (216.7, 130.7), (222.9, 131.9), (229.5, 131.4),
    (237.2, 129.1), (194.7, 100.4), (201.4, 97.2), (207.4, 98.5), (212.8, 103.2), (206.6, 103.8), (200.4, 103.4),
    (236.5, 104.4), (242.6, 100.2), (248.9, 99.5), (255.3, 103.8), (249.1, 106.1), (242.8, 105.7), (201.3, 138.7),
    (208.5, 138.5), (215.7, 138.7), (222.9, 139.9), (230.1, 139.3), (237.3, 139.6), (244.5, 140.5), (236.9, 149.7),
    (229.5, 153.4), (222.3, 154.1), (215.1, 152.8), (208.1, 148.6), (202.8, 139.4), (212.8, 141.0), (222.7, 142.7),
    (232.8, 141.9), (242.9, 141.0), (232.6, 148.0), (222.5, 149.6), (212.5, 147.3),
)  # fmt: skip
"""The 68 iBUG points (x, y) of the face, pixel-index coordinates of the 512 x 512 photo."""
PHOTO_OUTLINE = (
    (271.8, 113.7), (279.5, 97.6), (283.2, 77.8), (282.1, 56.1), (274.5, 36.5), (260.4, 25.0), (244.6, 19.2),
    (228.4, 18.3), (212.8, 22.0), (197.9, 28.0), (184.7, 39.2), (172.3, 51.9), (165.8, 70.7), (169.5, 92.4),
    (176.1, 109.4), (181.0, 123.5), (182.1, 137.8), (185.8, 151.4), (192.0, 163.5), (199.9, 174.1), (209.7, 182.0),
    (221.0, 184.9), (232.5, 183.4), (243.2, 177.0), (252.4, 167.4), (259.8, 155.7), (264.5, 141.8), (266.6, 127.4),
)  # fmt: skip
"""Photo positions of ``photo_warp.outline_points``: the hair's edge above, the face's edge below."""

SUIT_MIRROR_U = 208.0
"""Column of the centre of the suit's neck ring (measured by eye on the photo)."""


def load_face_photo() -> UInt8[np.ndarray, "512 512 3"]:
    """The astronaut photo (RGB)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())
