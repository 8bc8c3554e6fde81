"""Looks of the synthetic speaker: what colour each surface point has (the geometry is the same for all)."""

from __future__ import annotations

from typing import Callable, List, Literal, Protocol

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.sample.head_model import FaceState, Palette, head_albedo, torso_albedo
from rad_nerfstudio.sample.raycast import Ellipsoid, normal_at

LookName = Literal["photo", "flat"]
AlbedoFn = Callable[[Ellipsoid, Float[np.ndarray, "n 3"]], Float[np.ndarray, "n 3"]]
"""Colour of surface points of one part, given in that part group's frame (head or torso)."""


class Look(Protocol):
    """Surface colours of one synthetic person."""

    name: LookName
    adaptive_supersampling: bool
    """Supersample only pixels on part edges (the texture is smooth elsewhere) instead of every pixel."""

    def head_albedo(self, state: FaceState, parts: List[Ellipsoid]) -> AlbedoFn:
        """Colours of the head's parts for one frame's expression (``parts`` from ``head_parts(state)``)."""
        ...

    def torso_albedo(self, part: Ellipsoid, points: Float[np.ndarray, "n 3"]) -> Float[np.ndarray, "n 3"]:
        """Colours of neck and torso points (torso frame)."""
        ...

    def shading_normals(self, part: Ellipsoid, points: Float[np.ndarray, "n 3"]) -> Float[np.ndarray, "n 3"]:
        """Unit normals the renderer shades surface points with (part group frame)."""
        ...


class FlatLook:
    """Flat colours of a random palette: skin, hair, drawn eyes, brows, lips and a striped shirt."""

    name: LookName = "flat"
    adaptive_supersampling = False

    def __init__(self, palette: Palette):
        self.palette = palette

    def head_albedo(self, state: FaceState, parts: List[Ellipsoid]) -> AlbedoFn:
        return lambda part, points: head_albedo(part.part, points, state, self.palette, parts[2])

    def torso_albedo(self, part: Ellipsoid, points: Float[np.ndarray, "n 3"]) -> Float[np.ndarray, "n 3"]:
        return torso_albedo(part.part, points, self.palette)

    def shading_normals(self, part: Ellipsoid, points: Float[np.ndarray, "n 3"]) -> Float[np.ndarray, "n 3"]:
        return normal_at(points, part)
