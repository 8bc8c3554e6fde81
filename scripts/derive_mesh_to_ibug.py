"""Re-derive ``rad_nerfstudio/process/mesh_to_ibug.py``: for each iBUG-68 point of a rad-sample dataset's ground
truth, the MediaPipe face-mesh vertex nearest to it on average over the frames of ``raw/video.mp4``.

    rad-sample /tmp/derive --seed 7 --size 256 --seconds 10
    python scripts/derive_mesh_to_ibug.py /tmp/derive

The table in the package was derived this way from seed 7 (the tests score landmarks on other seeds).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from rad_nerfstudio.process.face_mesh import track_face_mesh
from rad_nerfstudio.process.video_frames import read_frames


def main() -> None:
    root = Path(sys.argv[1])
    truth = np.load(root / "gt" / "params.npz")["landmarks_2d"]
    mesh = track_face_mesh(read_frames(root / "raw" / "video.mp4"))[..., :2]
    found = ~np.isnan(mesh[:, 0, 0])
    distance = np.linalg.norm(mesh[found, None] - truth[found, :, None], axis=-1).mean(0)  # [68, 468]
    table = distance.argmin(1)
    print(f"# {found.sum()} of {len(found)} frames; mean distance {distance.min(1).mean():.2f} px")
    print("MESH_TO_IBUG68 = (" + ", ".join(str(int(i)) for i in table) + ")")


if __name__ == "__main__":
    main()
