"""Re-derive the control points of ``rad_nerfstudio/sample/face_photo.py`` from scikit-image's astronaut photo.

    python scripts/derive_face_photo.py [overlay.png]

The 68 iBUG points are read off MediaPipe's face mesh of the photo (``track_face_mesh``) by following the mesh's
contours (face oval, brows, eyes, lips, nose) and placing the points where the 68-point layout of
``rad_nerfstudio/sample/head_model.py`` puts them: the jaw from eye height on one side around the chin to eye
height on the other at equal arc length (a little inside the face edge, so the outline below can sit on it),
brows as the middle of the brow band, eye and lip points at fixed fractions of the corner-to-corner axis, the
nose ridge from between the eyes to the tip and the nose base across the nostrils. The outline points are
where each head-outline direction leaves the head in the photo: the hair's edge against the low-saturation
studio backdrop above, the face edge (the mesh's oval) below, a few pixels into the neck under the chin.
With an argument, the points are drawn over the photo into that PNG. Prints the module's two tables.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from rad_nerfstudio.process.face_mesh import track_face_mesh
from rad_nerfstudio.sample.face_photo import load_face_photo
from rad_nerfstudio.sample.head_model import FaceState, landmarks_3d
from rad_nerfstudio.sample.photo_warp import apply_affine, fit_similarity, outline_points

JAW_INSET_PX = 4.0
"""Jaw points move this far inside the mesh's face oval."""
EDGE_INSET_PX = 2.0
"""Outline points on the face's edge stay this far inside the oval (the edge blends into the backdrop)."""
HAIR_INSET_PX = 3.0
"""Outline points stop this far inside the hair's edge (no backdrop fringe)."""
HAIR_FADE_DEG = (10.0, 60.0)
"""Outline directions from this far below the horizontal reach into the hair, fully from this far above it: the
head's sides are narrower than the hair, which keeps only a thin band there."""
BACKDROP_SATURATION = 32
"""HSV saturation (0-255) below which a pixel counts as the grey studio backdrop."""


def _contours():
    """MediaPipe's face-mesh contour edge sets (``FACEMESH_LIPS``, ...)."""
    from mediapipe.python.solutions import face_mesh_connections  # pyright: ignore[reportMissingImports]

    return face_mesh_connections


def _graph(edges: frozenset) -> dict[int, list[int]]:
    graph: dict[int, list[int]] = defaultdict(list)
    for a, b in sorted(edges):
        graph[a].append(b)
        graph[b].append(a)
    return graph


def _walk(graph: dict[int, list[int]], start: int, first: int) -> list[int]:
    """Vertices from ``start`` through ``first`` onwards until a dead end or back at ``start``."""
    path = [start, first]
    while True:
        options = [v for v in graph[path[-1]] if v != path[-2]]
        if not options or options[0] == start:
            return path
        path.append(options[0])


def _between(graph: dict[int, list[int]], a: int, b: int, mesh: np.ndarray, upper: bool) -> np.ndarray:
    """Points of the upper (smaller image y) or lower path from vertex ``a`` to vertex ``b`` of a contour."""
    paths = []
    for first in graph[a]:
        path = _walk(graph, a, first)
        if b in path:
            paths.append(path[: path.index(b) + 1])
    paths.sort(key=lambda p: float(mesh[p, 1].mean()))
    return mesh[paths[0] if upper else paths[-1]]


def _open_paths(graph: dict[int, list[int]], mesh: np.ndarray) -> list[np.ndarray]:
    """The open polylines of a contour set, each ordered left to right in the image."""
    ends = sorted(v for v, n in graph.items() if len(n) == 1)
    paths, seen = [], set()
    for end in ends:
        if end in seen:
            continue
        path = _walk(graph, end, graph[end][0])
        seen.update(path)
        points = mesh[path]
        paths.append(points if points[0, 0] < points[-1, 0] else points[::-1])
    return paths


def _resample(points: np.ndarray, n: int) -> np.ndarray:
    """``n`` points at equal arc length along a polyline, ends included."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    at = np.linspace(0.0, arc[-1], n)
    return np.stack([np.interp(at, arc, points[:, k]) for k in range(2)], axis=1)


def _at_fractions(points: np.ndarray, fractions) -> np.ndarray:
    """Polyline points whose projection on the first-to-last axis is at ``fractions`` of its length."""
    axis = points[-1] - points[0]
    dense = _resample(points, 400)
    dense_along = (dense - points[0]) @ axis / float(axis @ axis)
    return np.stack([np.interp(fractions, dense_along, dense[:, k]) for k in range(2)], axis=1)


def _crossing(loop_points: np.ndarray, y: float, left: bool) -> tuple[int, np.ndarray]:
    """(segment index, point) where a closed polyline crosses the row ``y`` on its left or right side."""
    found = []
    for k in range(len(loop_points)):
        p, q = loop_points[k], loop_points[(k + 1) % len(loop_points)]
        if (p[1] - y) * (q[1] - y) <= 0 and p[1] != q[1]:
            found.append((k, p + (y - p[1]) / (q[1] - p[1]) * (q - p)))
    return min(found, key=lambda f: f[1][0]) if left else max(found, key=lambda f: f[1][0])


def _oval(mesh: np.ndarray) -> np.ndarray:
    """The mesh's face oval as a closed polygon."""
    graph = _graph(_contours().FACEMESH_FACE_OVAL)
    return mesh[_walk(graph, 10, graph[10][0])]


def _jaw(loop: np.ndarray, eye_y: tuple[float, float]) -> np.ndarray:
    """The 17 jaw points along the face oval ``loop``."""
    (i, left), (j, right) = _crossing(loop, eye_y[0], True), _crossing(loop, eye_y[1], False)
    chin = int(np.argmax(loop[:, 1]))
    forward = [(i + 1 + k) % len(loop) for k in range((j - i) % len(loop))]
    arc = forward if chin in forward else [(i - k) % len(loop) for k in range((i - j) % len(loop))]
    jaw = _resample(np.concatenate([[left], loop[arc], [right]]), 17)
    centre = np.array([jaw[:, 0].mean(), np.mean(eye_y)])
    inward = (centre - jaw) / np.linalg.norm(centre - jaw, axis=1, keepdims=True)
    return jaw + JAW_INSET_PX * inward


def photo_landmarks(mesh: np.ndarray) -> np.ndarray:
    """The 68 iBUG points of the photo from its face mesh (pixel-index coordinates)."""
    sets = _contours()
    out = np.zeros((68, 2))
    thirds, sixths, quarters = [1 / 3, 2 / 3], np.arange(1, 6) / 6, np.array([0.25, 0.5, 0.75])
    for base, contour, corners in ((36, sets.FACEMESH_RIGHT_EYE, (33, 133)), (42, sets.FACEMESH_LEFT_EYE, (362, 263))):
        graph = _graph(contour)
        upper = _at_fractions(_between(graph, *corners, mesh, upper=True), thirds)
        lower = _at_fractions(_between(graph, *corners, mesh, upper=False), thirds)
        out[base : base + 6] = [mesh[corners[0]], upper[0], upper[1], mesh[corners[1]], lower[1], lower[0]]
    out[0:17] = _jaw(_oval(mesh), (out[36, 1], out[45, 1]))
    for start, contour in ((17, sets.FACEMESH_RIGHT_EYEBROW), (22, sets.FACEMESH_LEFT_EYEBROW)):
        edges = _open_paths(_graph(contour), mesh)
        out[start : start + 5] = np.mean([_resample(p, 5) for p in edges], axis=0)
    out[27:31] = _resample(mesh[[168, 6, 197, 195, 5, 4]], 4)
    out[31:36] = mesh[[98, 97, 2, 326, 327]]
    lips = _graph(sets.FACEMESH_LIPS)
    upper, lower = (_at_fractions(_between(lips, 61, 291, mesh, side), sixths) for side in (True, False))
    out[48:60] = np.concatenate([mesh[[61]], upper, mesh[[291]], lower[::-1]])
    upper, lower = (_at_fractions(_between(lips, 78, 308, mesh, side), quarters) for side in (True, False))
    out[60:68] = np.concatenate([mesh[[78]], upper, mesh[[308]], lower[::-1]])
    return out


def photo_outline(photo: np.ndarray, landmarks: np.ndarray, oval: np.ndarray) -> np.ndarray:
    """Where each head-outline direction leaves the head in the photo (see the module docstring)."""
    saturation = cv2.cvtColor(photo, cv2.COLOR_RGB2HSV)[..., 1]
    head = cv2.GaussianBlur((saturation > BACKDROP_SATURATION).astype(np.float32), (0, 0), 1.5)
    similarity = fit_similarity(landmarks_3d(FaceState(0.0, 1.0, 1.0))[:, :2], landmarks)
    centre = apply_affine(similarity, np.zeros((1, 2)))[0]
    points = []
    for target in apply_affine(similarity, outline_points(FaceState(0.0, 1.0, 1.0))):
        direction = (target - centre) / np.linalg.norm(target - centre)
        r_oval = _ray_exit(centre, direction, oval)
        offset = -EDGE_INSET_PX + 10.0 * max(0.0, float(direction[1])) ** 4  # into the neck under the chin
        radius = r_oval + offset
        elevation = np.degrees(np.arcsin(-float(direction[1])))
        if elevation > -HAIR_FADE_DEG[0]:  # the hair reaches further, fully from HAIR_FADE_DEG[1] up
            steps = np.arange(0.8 * r_oval, 3.0 * r_oval, 0.5)
            ray = centre + steps[:, None] * direction
            inside = head[np.round(ray[:, 1]).astype(int), np.round(ray[:, 0]).astype(int)] > 0.5
            run = np.convolve(~inside, np.ones(9), mode="valid") == 9  # 4 px of backdrop in a row
            if run.any():
                hair = float(steps[int(np.argmax(run))]) - HAIR_INSET_PX
                share = np.clip((elevation + HAIR_FADE_DEG[0]) / sum(HAIR_FADE_DEG), 0.0, 1.0)
                radius = max(radius, r_oval + share * (hair - r_oval))
        points.append(centre + radius * direction)
    return np.array(points)


def _ray_exit(centre: np.ndarray, direction: np.ndarray, polygon: np.ndarray) -> float:
    """Distance from ``centre`` along ``direction`` to the farthest crossing of a closed polygon."""
    best = 0.0
    for k in range(len(polygon)):
        p, q = polygon[k], polygon[(k + 1) % len(polygon)]
        matrix = np.stack([direction, p - q], axis=1)
        if abs(np.linalg.det(matrix)) < 1e-9:
            continue
        t, s = np.linalg.solve(matrix, p - centre)
        if t > 0 and 0 <= s <= 1:
            best = max(best, float(t))
    return best


def _table(name: str, points: np.ndarray, per_line: int = 7) -> str:
    cells = [f"({x:.1f}, {y:.1f})," for x, y in points]
    lines = [" ".join(cells[k : k + per_line]) for k in range(0, len(cells), per_line)]
    return f"{name} = (\n" + "".join(f"    {line}\n" for line in lines) + ")  # fmt: skip"


def main() -> None:
    photo = load_face_photo()
    mesh = track_face_mesh([photo])[0, :, :2]
    if np.isnan(mesh).any():
        raise SystemExit("MediaPipe found no face in the photo")
    landmarks = photo_landmarks(mesh)
    outline = photo_outline(photo, landmarks, _oval(mesh))
    print(_table("PHOTO_LANDMARKS", landmarks))
    print(_table("PHOTO_OUTLINE", outline))
    if len(sys.argv) > 1:
        overlay = cv2.resize(photo[0:260, 110:350], None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
        for k, (x, y) in enumerate(np.concatenate([landmarks, outline])):
            centre = (int(round((x - 110) * 3)), int(round(y * 3)))
            cv2.circle(overlay, centre, 3, (0, 255, 0) if k < 68 else (255, 0, 255), -1)
            cv2.putText(overlay, str(k), centre, cv2.FONT_HERSHEY_SIMPLEX, 0.3, (255, 255, 0), 1)
        cv2.imwrite(str(Path(sys.argv[1])), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
