"""Per-frame schedules of a rendered video: which training pose each frame shows, and eye blinks."""

from __future__ import annotations

import math

import numpy as np
from jaxtyping import Float, Int


def ping_pong(count: int, length: int) -> Int[np.ndarray, " length"]:
    """``length`` indices walking ``0 .. count-1`` forwards then backwards (without repeating the ends)."""
    if count < 1:
        raise ValueError("ping_pong needs at least one item")
    if count == 1:
        return np.zeros(length, dtype=np.int64)
    period = 2 * count - 2
    phase = np.arange(length) % period
    return np.where(phase < count, phase, period - phase).astype(np.int64)


def blink_schedule(
    length: int, fps: float, open_value: float = 1.0, seed: int = 0, duration: float = 0.25
) -> Float[np.ndarray, " length"]:
    """Eye openness with natural blinks: one every 2-6 s (uniform), each closing and reopening over
    ``duration`` seconds (a sine dip to 0)."""
    rng = np.random.default_rng(seed)
    eye = np.full(length, open_value, dtype=np.float32)
    t = rng.uniform(1.0, 3.0)
    end = length / fps
    times = np.arange(length) / fps
    while t < end:
        inside = (times >= t) & (times < t + duration)
        eye[inside] = open_value * (1.0 - np.sin(math.pi * (times[inside] - t) / duration))
        t += rng.uniform(2.0, 6.0)
    return eye
