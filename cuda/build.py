"""Build the fused kernels now (``scripts/setup.sh`` runs this), so that no training or test waits for them:
``python -m rad_nerfstudio.cuda.build [--cuda]``. Prints what was built and where, or why the torch path serves."""

from __future__ import annotations

import argparse
import time

from .kernels import cpu_kernels, cuda_kernels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cuda", action="store_true", help="also compile the CUDA twins (needs nvcc; no GPU needed)")
    parser.add_argument("--verbose", action="store_true", help="show the compiler's commands")
    args = parser.parse_args()
    start = time.perf_counter()
    module = cpu_kernels(verbose=args.verbose)
    if module is not None:
        print(f"[kernels] fused CPU kernels ready ({time.perf_counter() - start:.0f} s): {module.__file__}")
    if args.cuda:
        start = time.perf_counter()
        twins = cuda_kernels(verbose=args.verbose, compile_only=True)
        if twins is not None:
            print(f"[kernels] CUDA twins compiled ({time.perf_counter() - start:.0f} s): {twins}")


if __name__ == "__main__":
    main()
