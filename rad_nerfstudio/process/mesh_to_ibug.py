"""The iBUG 68-point layout of the ``.lms`` files, read off MediaPipe's face mesh by a fixed vertex table."""

from __future__ import annotations

MESH_TO_IBUG68 = (
    127, 137, 213, 214, 210, 32, 171, 152, 152, 377, 400, 395, 430, 416, 401, 454, 356,  # jaw 0-16
    53, 52, 65, 65, 55, 336, 295, 296, 282, 283,  # brows 17-26
    6, 197, 195, 5, 97, 2, 2, 326, 326,  # nose 27-35
    33, 159, 158, 173, 22, 24, 398, 385, 387, 263, 254, 380,  # eyes 36-47
    76, 39, 72, 11, 302, 304, 291, 405, 314, 17, 84, 181,  # outer lips 48-59
    191, 81, 13, 311, 408, 402, 14, 178,  # inner lips 60-67
)  # fmt: skip
"""Mesh vertex of each iBUG point: the vertex nearest to it on average over a rad-sample clip (seed 7, 256 px,
250 frames, the refined mesh; 1.5 px mean distance), derived by ``scripts/derive_mesh_to_ibug.py``. Nearest
vertices can coincide (jaw 7 and 8, nose 32 and 33): the mesh is coarser there than the 68 points."""
