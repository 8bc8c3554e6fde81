"""rad-nerfstudio: audio-driven talking portraits (RAD-NeRF, ER-NeRF) as a nerfstudio plugin.

This package is imported by every ``ns-*`` command through nerfstudio's entry points, so it must stay
light: no torch, audio models or CUDA kernels at import time.
"""

from __future__ import annotations

from rad_nerfstudio.error_report import install_error_hook

__version__ = "0.1.0"

install_error_hook()  # our input errors print as one line under ns-* commands too (see error_report)
