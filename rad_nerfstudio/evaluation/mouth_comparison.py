"""rad-eval's mouth measurements: the opening of each render and of its ground truth, and how they correlate."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
from jaxtyping import Float, UInt8

from rad_nerfstudio.evaluation.mesh_landmarks import FaceMeshDetector
from rad_nerfstudio.evaluation.mouth_pictures import lips_crop, mouth_strip, write_mouth_strip, write_opening_plot
from rad_nerfstudio.evaluation.mouth_shape import measure_frame, opening_spread, pearson_r


def finite_or_none(value: float) -> float | None:
    """JSON-safe: NaN and infinities become None (null)."""
    return float(value) if np.isfinite(value) else None


def attainable_mouth_r(prediction_r: float, repeatability: float) -> float:
    """The mouth r a head that rendered exactly the predicted mouth would reach against the frames, when the
    prediction follows the frames' readings at ``prediction_r`` and the detector repeats its own reading of a frame
    at ``repeatability`` (r of two readings; the render's reading adds noise of that size). NaN where undefined."""
    if not (np.isfinite(prediction_r) and np.isfinite(repeatability)) or repeatability <= 0:
        return float("nan")
    return float(prediction_r * np.sqrt(min(repeatability, 1.0)))


def _mirrored_box(box: tuple[int, int, int, int], width: int) -> tuple[int, int, int, int]:
    """A pixel box ``x0, y0, x1, y1`` of an image ``width`` wide, in the image flipped left to right."""
    x0, y0, x1, y1 = box
    return width - x1, y0, width - x0, y1


class MouthComparison:
    """Accumulates, frame by frame, the mouth openings of renders and ground truth and their lips crops; the
    ground truth is also read flipped left to right, a second reading of the same mouth that says how far the
    detector repeats itself (``mouth_detector_repeatability``)."""

    def __init__(self, detector: FaceMeshDetector, strip_every: int = 1) -> None:
        self.detector = detector
        self.strip_every = max(1, strip_every)
        self.opening: Dict[str, List[float]] = {"truth": [], "render": [], "truth_mirrored": []}
        self._crops: Dict[str, List[np.ndarray]] = {"truth": [], "render": []}
        self._labels: List[str] = []

    def add(
        self,
        img_id: int,
        truth: UInt8[np.ndarray, "h w 3"],
        render: UInt8[np.ndarray, "h w 3"],
        face: tuple[int, int, int, int],
        mouth_box: tuple[int, int, int, int],
    ) -> tuple[Float[np.ndarray, "68 2"], Float[np.ndarray, "68 2"]]:
        """Measure one frame pair; returns the iBUG-68 points of the truth and the render (NaN if not found)."""
        points = {}
        for name, image in (("truth", truth), ("render", render)):
            opening, _, points[name] = measure_frame(self.detector, image, face)
            self.opening[name].append(opening)
        mirrored = np.ascontiguousarray(truth[:, ::-1])
        self.opening["truth_mirrored"].append(
            measure_frame(self.detector, mirrored, _mirrored_box(face, truth.shape[1]))[0]
        )
        if (len(self.opening["truth"]) - 1) % self.strip_every == 0:
            self._crops["truth"].append(lips_crop(truth, mouth_box))
            self._crops["render"].append(lips_crop(render, mouth_box))
            self._labels.append(f"#{img_id}")
        return points["truth"], points["render"]

    def strip(self) -> UInt8[np.ndarray, "h w 3"]:
        """Lips crops of every ``strip_every``-th frame: ground truth above render."""
        return mouth_strip(self._crops["truth"], self._crops["render"], self._labels)

    def write_pictures(
        self, stem: Path, img_ids: Sequence[int], true_open: Float[np.ndarray, " n"] | None, title: str
    ) -> Dict[str, str]:
        """``<stem>_mouth_strip.png`` and ``<stem>_mouth_opening.png``; returns their paths by name."""
        files = {
            "mouth_strip": str(stem.parent / f"{stem.name}_mouth_strip.png"),
            "mouth_opening_plot": str(stem.parent / f"{stem.name}_mouth_opening.png"),
        }
        write_mouth_strip(Path(files["mouth_strip"]), self.strip())
        tracks = {name: np.array(values) for name, values in self.opening.items()}
        r = pearson_r(tracks["render"], tracks["truth"])
        write_opening_plot(
            Path(files["mouth_opening_plot"]),
            img_ids,
            {"ground-truth frames": tracks["truth"], "render": tracks["render"]},
            f"{title}: mouth r {r:.3f}" if np.isfinite(r) else f"{title}: mouth r undefined",
            "frame (img_id)",
            true_open,
        )
        return files

    def report(
        self,
        true_open: Float[np.ndarray, " n"] | None,
        notes: Dict[str, str],
        audio_prediction: Float[np.ndarray, " n"] | None = None,
    ) -> tuple[Dict[str, object], Dict[str, List[float | None]]]:
        """The correlations (None where undefined, with the reason added to ``notes``) and detection rates; the
        per-frame openings. ``audio_prediction``: the opening the audio code predicts per frame
        (``PortraitModel.audio_mouth_prediction``): ``mouth_r_audio_prediction`` says how closely the render follows
        what its audio code says (with ``audio_mouth_r``, whether the audio or the render loses the mouth)."""
        tracks = {name: np.array(self.opening[name]) for name in ("truth", "render")}
        mirrored = np.array(self.opening.get("truth_mirrored", []), dtype=np.float64)
        read_mirrored = mirrored.size > 0 and mirrored.size == tracks["truth"].size
        rates = {name: float(np.isfinite(v).mean()) if v.size else 0.0 for name, v in tracks.items()}
        series = {"render opening": tracks["render"], "ground-truth opening": tracks["truth"]}
        pairs = {"mouth_r": ("render opening", "ground-truth opening")}
        if true_open is not None:
            series["true mouth_open"] = np.asarray(true_open, dtype=np.float64)
            pairs["mouth_r_truth"] = ("render opening", "true mouth_open")
            pairs["mouth_r_truth_ceiling"] = ("ground-truth opening", "true mouth_open")
        if audio_prediction is not None:
            series["audio code's opening"] = np.asarray(audio_prediction, dtype=np.float64)
            pairs["mouth_r_audio_prediction"] = ("render opening", "audio code's opening")
        result: Dict[str, object] = {}
        for key, (a, b) in pairs.items():
            result[key] = finite_or_none(pearson_r(series[a], series[b]))
            if result[key] is None:
                notes[key] = _why_undefined({a: series[a], b: series[b]})
        if read_mirrored:
            repeatability = pearson_r(tracks["truth"], mirrored)
            result["mouth_detector_repeatability"] = finite_or_none(repeatability)
            if audio_prediction is not None:
                prediction_r = pearson_r(series["audio code's opening"], tracks["truth"])
                result["mouth_r_attainable"] = finite_or_none(attainable_mouth_r(prediction_r, repeatability))
        result["mouth_detection_rate"] = rates
        result["mouth_opening_std"] = {name: opening_spread(values) for name, values in tracks.items()}
        per_frame: Dict[str, List[float | None]] = {
            "mouth_opening_truth": [finite_or_none(v) for v in tracks["truth"]],
            "mouth_opening_render": [finite_or_none(v) for v in tracks["render"]],
        }
        if read_mirrored:
            per_frame["mouth_opening_truth_mirrored"] = [finite_or_none(v) for v in mirrored]
        if true_open is not None:
            per_frame["mouth_open_true"] = [float(v) for v in true_open]
        if audio_prediction is not None:
            per_frame["mouth_opening_audio_prediction"] = [float(v) for v in audio_prediction]
        return result, per_frame


def _why_undefined(series: Dict[str, np.ndarray]) -> str:
    """Why a correlation could not be computed: too few frames with a face, or a series that does not vary."""
    found = {name: int(np.isfinite(values).sum()) for name, values in series.items()}
    constant = [name for name, values in series.items() if found[name] and (opening_spread(values) or 0.0) < 1e-9]
    counts = ", ".join(f"{name} in {found[name]} of {len(values)} frames" for name, values in series.items())
    return f"undefined (needs 3 frames with values that vary): {counts}" + (
        f"; constant: {', '.join(constant)}" if constant else ""
    )
