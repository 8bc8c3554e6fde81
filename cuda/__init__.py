"""Optional fused CUDA kernels, installed as ``rad_nerfstudio.cuda``.

Each kernel has a pure-torch reference implementation beside it; kernels are loaded lazily so
that CPU-only machines never start a CUDA build.
"""
