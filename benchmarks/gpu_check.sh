#!/usr/bin/env bash
# On a machine with a GPU (under 10 minutes): compile the CUDA twins of the fused kernels, test them against their
# torch references on the GPU (the same tests CI runs on the CPU kernels), and time each kernel against its torch
# reference on the GPU. Needs the project installed (bash scripts/setup.sh) and nvcc; run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
python_bin="${PYTHON:-.venv/bin/python}"
export RAD_NERFSTUDIO_CUDA_TWINS=1
"$python_bin" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "gpu_check: no GPU visible to torch")'
"$python_bin" -m rad_nerfstudio.cuda.build --cuda
"$python_bin" -m pytest -q -n0 -p no:cacheprovider tests/cuda
"$python_bin" benchmarks/kernel_speed.py --device cuda --points 1048576 --output benchmarks/results/kernel_speed_gpu.json
