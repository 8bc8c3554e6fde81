"""Which focal length rad-process uses: the landmarks' best fit when they determine it, else a stated prior.

The reprojection error of the head-pose fit is profiled over candidate focal lengths. A parabola in log focal
length fitted around the profile's minimum gives the best fit and its uncertainty: the profile-likelihood
standard error of log focal, counting each frame as one independent observation (a detector's errors are
correlated across the points of a frame, so counting points would be overconfident). The best fit is used when
it lies inside the search range and its uncertainty is at most ``MAX_UNCERTAINTY`` (so that +-15 % is two
standard errors); otherwise (little head rotation, little perspective, noisy landmarks) the prior is used, with a
warning.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal, Sequence

import numpy as np

PRIOR_FOCAL_PER_WIDTH = 1.5
"""The prior focal length in units of the frame width: a 37 degree horizontal field of view. The crop spans
about 0.4 m at the face (the face 40 % of its width); seen from 0.6 m, a laptop webcam or a phone held out, that
is 1.5 widths. It also lies between the wide and narrow ends of talking-head footage (1 and 3 widths), where a
wrong prior costs the head rotations least: on the noisy test tracks a 1.5 prior keeps them within 1.24 degrees
median at both ends, a 2.0 prior lets a wide lens reach 1.87. The anchors' own focal search spans 1.2-2.7
widths (600-1400 px at 512 px)."""
SEARCH_RANGE = (0.5, 5.0)
"""Candidate focal lengths in units of the frame width (a 90 to an 11 degree field of view)."""
SEARCH_CANDIDATES = 14
"""Candidates, evenly spaced in log focal length (19 % apart)."""
MAX_UNCERTAINTY = 0.075
"""Largest standard error of log focal length (about 7.5 %) at which the best fit is trusted."""


@dataclass(frozen=True)
class FocalChoice:
    """The focal length used and why."""

    focal: float
    """Focal length used, in pixels."""
    source: Literal["given", "estimated", "prior"]
    """``given`` (``--focal-length``), ``estimated`` from the landmarks, or the ``prior``."""
    prior: float
    """The prior focal length in pixels (``PRIOR_FOCAL_PER_WIDTH`` times the width)."""
    best_fit: float | None = None
    """The reprojection error's minimum over the candidates (pixels); None when given."""
    uncertainty: float | None = None
    """Standard error of the best fit's log focal length (0.05: about 5 %), the confidence; None when given or
    when the profile has no interior minimum."""
    reason: str = ""
    """Why the prior was used (empty otherwise)."""

    def summary(self, width: int) -> str:
        """One line for the console and the process report."""
        used = f"focal {self.focal:.1f} px ({self.focal / width:.2f} x width, {self.source})"
        if self.source == "given":
            return used
        best = f"best fit {self.best_fit:.1f} px" if self.best_fit is not None else "no best fit"
        if self.uncertainty is not None:
            best += f" +-{100 * self.uncertainty:.0f} %"
        return f"{used}: " + ", ".join(part for part in (best, self.reason) if part)

    def record(self) -> dict:
        """JSON-ready fields for transforms.json."""
        return {key: value for key, value in asdict(self).items() if value is not None and value != ""}


def prior_focal(width: int) -> float:
    return PRIOR_FOCAL_PER_WIDTH * width


def candidates(width: int) -> np.ndarray:
    """The focal lengths (pixels) whose reprojection errors are profiled."""
    return np.geomspace(SEARCH_RANGE[0] * width, SEARCH_RANGE[1] * width, SEARCH_CANDIDATES)


def choose_focal(
    focals: Sequence[float] | np.ndarray, rms: Sequence[float] | np.ndarray, width: int, frames: int
) -> FocalChoice:
    """The focal length from a reprojection-error profile (``rms[i]`` pixels at ``focals[i]``, ascending) over
    ``frames`` frames: the parabola in (log focal, squared error) through the minimum and two candidates either
    side gives the best fit and its standard error; the prior is used when the minimum is at a search bound or
    the standard error exceeds ``MAX_UNCERTAINTY``."""
    x, y = np.log(np.asarray(focals, float)), np.square(np.asarray(rms, float))
    k = int(np.argmin(y))
    prior = prior_focal(width)
    if k in (0, len(y) - 1):
        reason = "the reprojection error falls towards the search bound: the landmarks do not determine it"
        return FocalChoice(prior, "prior", prior, float(focals[k]), None, reason)
    window = slice(max(k - 2, 0), min(k + 3, len(y)))
    a, b, c = np.polyfit(x[window], y[window], 2)
    if a <= 0:
        return FocalChoice(prior, "prior", prior, float(focals[k]), None, "the reprojection error has no minimum")
    vertex = float(np.clip(-b / (2 * a), x[window][0], x[window][-1]))
    floor = max(float(np.polyval([a, b, c], vertex)), float(y[k]) * 0.5, 1e-12)
    uncertainty = math.sqrt(floor / (2 * frames * a))  # 1 / sqrt(curvature of sum(squared errors) / (2 sigma^2))
    best = math.exp(vertex)
    if uncertainty > MAX_UNCERTAINTY:
        reason = f"the landmarks do not determine it (uncertainty over {100 * MAX_UNCERTAINTY:.1f} %)"
        return FocalChoice(prior, "prior", prior, best, uncertainty, reason)
    return FocalChoice(best, "estimated", prior, best, uncertainty)
