"""Fused kernels, installed as ``rad_nerfstudio.cuda``: C++ / OpenMP kernels for the CPU and their CUDA twins
(``csrc/``) for the hash-grid encoding, the occupancy-grid ray marcher and volume compositing, each with a torch
reference beside its caller. Nothing is compiled on import: ``kernels.py`` builds them on first use (or at install,
``build.py``) and every caller falls back to its reference when they cannot be had.
"""
