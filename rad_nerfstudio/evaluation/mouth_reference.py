"""Score the mouth of a video (a ``rad-render`` output, driven by any audio) against a reference opening track:
rad-sample's ground truth (an ``.npz`` with ``mouth_open``) or the opening measured on a reference video."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.constants import VIDEO_FPS
from rad_nerfstudio.errors import InputFileError
from rad_nerfstudio.evaluation.mouth_comparison import finite_or_none
from rad_nerfstudio.evaluation.mouth_shape import MouthTrack, measure_mouth, opening_spread, pearson_r

MAX_LAG_FRAMES = 3
"""``r_best_lag`` looks this many frames either way (120 ms at 25 fps) for an audio-video offset."""


def read_reference_params(path: Path, fps: float = VIDEO_FPS) -> Float[np.ndarray, " n"]:
    """``mouth_open`` of a rad-sample ``.npz`` at ``fps`` (resampled by ``frame_time`` seconds when present)."""
    if not path.is_file():
        raise InputFileError(path, "does not exist (a reference: rad-sample's gt/*params.npz or a video)")
    try:
        with np.load(path) as params:
            arrays = {name: np.asarray(params[name], dtype=np.float64) for name in params.files}
    except (OSError, ValueError) as error:
        raise InputFileError(path, f"cannot be read as a numpy .npz ({error})") from error
    if "mouth_open" not in arrays or arrays["mouth_open"].ndim != 1 or not arrays["mouth_open"].size:
        raise InputFileError(path, "has no 1-D mouth_open array (rad-sample writes one in gt/*params.npz)")
    values, times = arrays["mouth_open"], arrays.get("frame_time")
    if times is None or times.shape != values.shape or values.size < 2:
        return values
    ticks = np.arange(times[0], times[-1] + 0.5 / fps, 1.0 / fps)
    return np.interp(ticks, times, values)


def read_video_opening(path: Path) -> MouthTrack:
    """The mouth opening of each frame of a video, resampled to 25 fps (see ``read_frames``)."""
    from rad_nerfstudio.process.video_frames import read_frames

    if not path.is_file():
        raise InputFileError(path, "does not exist")
    track = measure_mouth(read_frames(path))
    if not track.opening.size:
        raise InputFileError(path, "has no video frames")
    return track


def best_lag_r(video: Float[np.ndarray, " n"], reference: Float[np.ndarray, " n"]) -> tuple[float, int]:
    """The highest Pearson r over shifts of up to ``MAX_LAG_FRAMES``, and that shift (positive: the video is late)."""
    best = (float("nan"), 0)
    for lag in range(-MAX_LAG_FRAMES, MAX_LAG_FRAMES + 1):
        a, b = (video[lag:], reference[: reference.size - lag]) if lag >= 0 else (video[:lag], reference[-lag:])
        r = pearson_r(a, b)
        if np.isfinite(r) and (np.isnan(best[0]) or r > best[0]):
            best = (r, lag)
    return best


def _json_list(values: np.ndarray) -> List[float | None]:
    return [finite_or_none(v) for v in values]


def score_mouth_video(video: Path, reference: Path, output_path: Path) -> dict:
    """Compare the video's mouth opening with the reference's, frame by frame at 25 fps; write the JSON and
    ``<stem>_mouth_opening.png`` next to it; returns the JSON."""
    from rad_nerfstudio.evaluation.mouth_pictures import write_opening_plot
    from rad_nerfstudio.io.atomic import write_text_atomic

    if not video.is_file():
        raise InputFileError(video, "does not exist (the video to score)")
    is_params = reference.suffix.lower() == ".npz"
    reference_values = read_reference_params(reference) if is_params else None
    measured = read_video_opening(video)
    reference_track = None if is_params else read_video_opening(reference)
    if reference_track is not None:
        reference_values = reference_track.opening
    assert reference_values is not None
    count = min(measured.opening.size, reference_values.size)
    opening, target = measured.opening[:count], reference_values[:count]
    lengths = {"video": int(measured.opening.size), "reference": int(reference_values.size), "compared": count}
    length_note = None
    if lengths["video"] != lengths["reference"]:
        difference = abs(lengths["video"] - lengths["reference"])
        length_note = f"lengths differ by {difference} frame(s): both truncated to the shorter, {count} frames"
        if difference > 2:
            length_note += "; more than a frame or two: is the reference the one that drove this video?"
    r_lag, lag = best_lag_r(opening, target)
    stem = output_path.with_suffix("")
    plot = stem.parent / f"{stem.name}_mouth_opening.png"
    times = np.arange(count) / VIDEO_FPS
    r = pearson_r(opening, target)
    report = {
        "video": str(video),
        "reference": str(reference),
        "reference_kind": "mouth_open parameter (npz)" if is_params else "opening measured on a reference video",
        "r": finite_or_none(r),
        "r_best_lag": finite_or_none(r_lag),
        "best_lag_frames": lag,
        "detection_rate": measured.detection_rate,
        "opening_std": {"video": opening_spread(opening), "reference": opening_spread(target)},
        "reference_detection_rate": None if reference_track is None else reference_track.detection_rate,
        "frames": lengths,
        "length_note": length_note,
        "fps": VIDEO_FPS,
        "files": {"mouth_opening_plot": str(plot)},
        "per_frame": {
            "time": [float(t) for t in times],
            "opening": _json_list(opening),
            "reference": _json_list(target),
        },
    }
    title = f"{video.name} vs {reference.name}: r {r:.3f}" if np.isfinite(r) else f"{video.name}: r undefined"
    if is_params:
        write_opening_plot(plot, list(times), {video.name: opening}, title, "time (s)", target)
    else:
        write_opening_plot(plot, list(times), {reference.name: target, video.name: opening}, title, "time (s)")
    write_text_atomic(output_path, json.dumps(report, indent=2))
    return report
