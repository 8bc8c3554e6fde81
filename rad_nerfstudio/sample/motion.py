"""Smooth random motion of the synthetic speaker: head pose, partly-following torso, blinks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float
from scipy.spatial.transform import Rotation

HEAD_REST_TRANSLATION = np.array([0.0, 0.06, -0.8])
"""Head centre in the camera frame at rest (metres): 0.8 m in front of the camera."""
HEAD_PIVOT = np.array([0.0, -0.09, -0.02])
"""The head turns about this head-frame point (top of the neck), not its centre."""
NECK_BASE_OFFSET = np.array([0.0, -0.11, -0.015])
"""Torso-frame origin relative to the head centre at rest."""
EULER_ORDER = "YXZ"
"""Intrinsic yaw (y), pitch (x), roll (z), as used by ``scipy.spatial.transform.Rotation``."""
TORSO_FOLLOW = np.array([0.3, 0.15, 0.35])
"""Fraction of the head's yaw, pitch, roll that the torso follows."""
TORSO_TRANSLATION_FOLLOW = 0.5


@dataclass
class Motion:
    """Per-frame poses (camera frame, ``p_cam = R p_part + t``) and eye openness."""

    head_euler_deg: Float[np.ndarray, "n 3"]
    head_rotation: Float[np.ndarray, "n 3 3"]
    head_translation: Float[np.ndarray, "n 3"]
    torso_rotation: Float[np.ndarray, "n 3 3"]
    torso_translation: Float[np.ndarray, "n 3"]
    eye_open: Float[np.ndarray, " n"]
    blink_times: Float[np.ndarray, " b"]


def _wander(rng: np.random.Generator, times: np.ndarray, amplitude: float) -> np.ndarray:
    """Sum of three slow sinusoids with random frequencies (0.05-0.35 Hz) and phases."""
    freqs = rng.uniform(0.05, 0.35, size=3)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=3)
    weights = rng.uniform(0.5, 1.0, size=3)
    weights /= weights.sum()
    return amplitude * np.sum(weights[:, None] * np.sin(2 * np.pi * freqs[:, None] * times + phases[:, None]), 0)


def blink_schedule(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Blink start times: the first after 0.8-2 s, then every 2-5 s."""
    times = []
    t = float(rng.uniform(0.8, 2.0))
    while t < seconds - 0.3:
        times.append(t)
        t += float(rng.uniform(2.0, 5.0))
    return np.asarray(times)


def eye_openness(times: np.ndarray, blinks: np.ndarray, duration: float = 0.24) -> np.ndarray:
    """1 open, dipping smoothly to 0 in the middle of each blink."""
    openness = np.ones_like(times)
    for start in blinks:
        u = (times - start) / duration
        inside = (u > 0) & (u < 1)
        openness[inside] -= np.sin(np.pi * u[inside]) ** 2
    return np.clip(openness, 0.0, 1.0)


def random_motion(
    rng: np.random.Generator, num_frames: int, fps: float, distance: float = 0.8, turn: float = 1.0
) -> Motion:
    """Head turning a few degrees (yaw 7, pitch 4, roll 3, times ``turn``) and shifting about a centimetre,
    ``distance`` metres in front of the camera."""
    times = np.arange(num_frames) / fps
    euler = turn * np.stack([_wander(rng, times, a) for a in (7.0, 4.0, 3.0)], axis=1)
    shift = np.stack([_wander(rng, times, a) for a in (0.008, 0.005, 0.01)], axis=1)
    head_rot = Rotation.from_euler(EULER_ORDER, euler, degrees=True).as_matrix()
    rest = HEAD_REST_TRANSLATION * np.array([1.0, 1.0, distance / -HEAD_REST_TRANSLATION[2]])
    head_t = rest + shift + HEAD_PIVOT - head_rot @ HEAD_PIVOT
    sway = np.stack([_wander(rng, times, a) for a in (1.0, 0.5, 1.0)], axis=1)
    torso_rot = Rotation.from_euler(EULER_ORDER, euler * TORSO_FOLLOW + sway, degrees=True).as_matrix()
    torso_t = rest + NECK_BASE_OFFSET + TORSO_TRANSLATION_FOLLOW * shift
    blinks = blink_schedule(rng, num_frames / fps)
    return Motion(euler, head_rot, head_t, torso_rot, torso_t, eye_openness(times, blinks), blinks)
