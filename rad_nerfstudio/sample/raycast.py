"""Analytic ray casting against ellipsoids (the synthetic portrait is a union of them)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from jaxtyping import Float


@dataclass(frozen=True)
class Ellipsoid:
    """An axis-aligned ellipsoid in its part's frame, optionally cut to one side of a plane y = y_cut."""

    center: Float[np.ndarray, "3"]
    radii: Float[np.ndarray, "3"]
    keep_y: str | None = None
    """``"above"`` or ``"below"``: keep only the half with y >= / < ``center[1]`` (for egg shapes)."""
    part: str = field(default="")


def intersect(
    origin: Float[np.ndarray, "3"], directions: Float[np.ndarray, "n 3"], ellipsoid: Ellipsoid
) -> Float[np.ndarray, " n"]:
    """Distance along each ray from the shared ``origin`` to the first valid surface hit (``inf`` on a miss)."""
    radii = ellipsoid.radii.astype(directions.dtype)
    o = ((origin - ellipsoid.center) / ellipsoid.radii).astype(directions.dtype)
    d = directions / radii
    a = np.einsum("ij,ij->i", d, d)
    b = 2.0 * (d @ o)
    c = float(o @ o) - 1.0
    disc = b * b - 4.0 * a * c
    hit = disc >= 0.0
    t = np.full(directions.shape[0], np.inf, dtype=directions.dtype)
    t[hit] = (-b[hit] - np.sqrt(disc[hit])) / (2.0 * a[hit])
    t[t <= 0.0] = np.inf
    if ellipsoid.keep_y is not None:
        finite = np.flatnonzero(np.isfinite(t))
        y = origin[1] + t[finite] * directions[finite, 1] - ellipsoid.center[1]
        wrong_side = y < 0.0 if ellipsoid.keep_y == "above" else y >= 0.0
        t[finite[wrong_side]] = np.inf
    return t


def normal_at(points: Float[np.ndarray, "n 3"], ellipsoid: Ellipsoid) -> Float[np.ndarray, "n 3"]:
    """Outward unit normals of the ellipsoid at surface points."""
    g = (points - ellipsoid.center) / ellipsoid.radii**2
    return g / np.linalg.norm(g, axis=-1, keepdims=True)


def nearest_hit(
    origin: Float[np.ndarray, "3"], directions: Float[np.ndarray, "n 3"], parts: list[Ellipsoid]
) -> tuple[Float[np.ndarray, " n"], np.ndarray]:
    """Distance to and index (into ``parts``) of the nearest hit; index -1 where nothing is hit."""
    ts = np.stack([intersect(origin, directions, e) for e in parts])
    index = np.argmin(ts, axis=0)
    t = ts[index, np.arange(directions.shape[0])]
    index[~np.isfinite(t)] = -1
    return t, index
