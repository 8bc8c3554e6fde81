"""How well rad-process recovered a rad-sample clip: head rotations, landmarks, focal length, parsing, plate."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from jaxtyping import Float
from scipy.spatial.transform import Rotation

from rad_nerfstudio.constants import PARSING_CLASSES
from rad_nerfstudio.io.layout import read_parsing_labels


def nearest_rotation(matrix: Float[np.ndarray, "3 3"]) -> Float[np.ndarray, "3 3"]:
    """The rotation closest to ``matrix`` (Frobenius norm): of a sum of rotations, their chordal mean."""
    u, _, vt = np.linalg.svd(matrix)
    return u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt


def head_frame_change(
    truth: Float[np.ndarray, "n 3 3"], estimate: Float[np.ndarray, "n 3 3"]
) -> Float[np.ndarray, "3 3"]:
    """The one fixed rotation ``F`` with ``estimate ~ truth @ F`` (least squares): the estimate's head frame in the
    truth's. A head frame is a convention: only the poses relative to it can be compared."""
    return nearest_rotation(np.einsum("nji,njk->ik", truth, estimate))


def rotation_errors_deg(truth: Float[np.ndarray, "n 3 3"], estimate: Float[np.ndarray, "n 3 3"]) -> np.ndarray:
    """Degrees between poses after the head frames are matched (``head_frame_change``)."""
    frame = head_frame_change(truth, estimate)
    return np.degrees(Rotation.from_matrix(np.einsum("nji,njk->nik", truth @ frame, estimate)).magnitude())


def split_frames(root: Path, split: str) -> list:
    """The frames of ``transforms_{split}.json``."""
    return json.loads((root / f"transforms_{split}.json").read_text())["frames"]


def transforms_frames(root: Path) -> list:
    """The frames of ``transforms_train.json`` then ``transforms_val.json``."""
    return split_frames(root, "train") + split_frames(root, "val")


def head_to_camera_rotations(frames: list) -> Float[np.ndarray, "n 3 3"]:
    """Each frame's head-to-camera rotation (the transpose of its camera-to-world ``transform_matrix``)."""
    return np.transpose(np.array([f["transform_matrix"] for f in frames], dtype=np.float64)[:, :3, :3], (0, 2, 1))


def score_processed(output: Path, sample: Path) -> dict:
    """Scores of a rad-process ``output`` made from ``sample/raw/video.mp4`` against the sample's ground truth."""
    truth = np.load(sample / "gt" / "params.npz")
    frames = transforms_frames(output)
    ids = [f["img_id"] for f in frames]
    errors = rotation_errors_deg(truth["head_rotation"][ids], head_to_camera_rotations(frames))
    landmarks = np.stack([np.loadtxt(output / "ori_imgs" / f"{i}.lms") for i in ids])
    focal = json.loads((output / "transforms_train.json").read_text())["focal_len"]
    true_focal = json.loads((sample / "transforms_train.json").read_text())["focal_len"]
    inter, union = np.zeros(len(PARSING_CLASSES)), np.zeros(len(PARSING_CLASSES))
    classes = np.arange(len(PARSING_CLASSES))[:, None, None]
    for i in ids:
        ours = read_parsing_labels(output / "parsing" / f"{i}.png")[None] == classes
        theirs = read_parsing_labels(sample / "parsing" / f"{i}.png")[None] == classes
        inter += (ours & theirs).sum((1, 2))
        union += (ours | theirs).sum((1, 2))
    iou = {name: float(inter[k] / max(union[k], 1)) for k, name in enumerate(PARSING_CLASSES)}
    plate = cv2.imread(str(output / "bc.jpg")).astype(float) - cv2.imread(str(sample / "bc.jpg"))
    return {
        "frames": len(ids),
        "rotation_median_deg": float(np.median(errors)),
        "rotation_p90_deg": float(np.percentile(errors, 90)),
        "landmark_mean_px": float(np.linalg.norm(landmarks - truth["landmarks_2d"][ids], axis=-1).mean()),
        "focal_px": float(focal),
        "true_focal_px": float(true_focal),
        "focal_relative_error": float(abs(focal - true_focal) / true_focal),
        "parsing_iou": iou,
        "plate_mean_abs": float(np.abs(plate).mean()),
    }
