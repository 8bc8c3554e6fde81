"""Build (once, cached) and load the fused kernels; ``None`` with one line saying why when they cannot be had.

The CPU kernels are C++ with OpenMP (``csrc/kernels_cpu.cpp``), compiled by torch's extension builder on first use
and cached in torch's extensions folder (``TORCH_EXTENSIONS_DIR``, by default ``~/.cache/torch_extensions``);
``scripts/setup.sh`` builds them at install (``python -m rad_nerfstudio.cuda.build``). The CUDA twins
(``csrc/kernels_cuda.cu``) share their arithmetic (``csrc/common.h``) and are built the same way on a machine
with a GPU and nvcc; they have been compiled (nvcc 13, sm_80 and sm_90) but never run on a GPU, so GPU tensors
take them only with ``RAD_NERFSTUDIO_CUDA_TWINS=1`` (``benchmarks/gpu_check.sh`` sets it and tests them against
the references); otherwise GPU runs use tinycudann where installed and the torch references.
``RAD_NERFSTUDIO_KERNELS=torch`` (or ``set_fused(False)``) turns every kernel off: each caller then takes its torch
reference path.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Iterator

import torch
from nerfstudio.utils.rich_utils import CONSOLE

SOURCES = Path(__file__).resolve().parent / "csrc"
CPU_SOURCES = ("bindings.cpp", "kernels_cpu.cpp")
CUDA_SOURCES = ("bindings.cpp", "kernels_cuda.cu")
HEADERS = ("common.h", "dispatch.h", "kernels.h")
CPU_MODULE, CUDA_MODULE = "rad_nerfstudio_cpu_kernels", "rad_nerfstudio_cuda_kernels"
CUDA_TWINS_SWITCH = "RAD_NERFSTUDIO_CUDA_TWINS"
"""Set to 1 to let GPU tensors take the CUDA twins (not yet run on a GPU: off by default)."""
DEFAULT_CUDA_ARCHS = "8.0;9.0"
"""Architectures compiled for when no GPU says which (A100; H100 / H200)."""

_enabled = os.environ.get("RAD_NERFSTUDIO_KERNELS", "fused").lower() != "torch"
_loaded: dict[str, ModuleType | None] = {}
"""Each device kind's kernels once tried: the module, or None after a failure (said once)."""


def set_fused(enabled: bool) -> None:
    """Use the fused kernels (True) or every torch reference path (False) from now on."""
    global _enabled
    _enabled = enabled


@contextmanager
def fused(enabled: bool) -> Iterator[None]:
    """The fused kernels on or off inside the block (benchmarks run both paths side by side)."""
    before = _enabled
    set_fused(enabled)
    try:
        yield
    finally:
        set_fused(before)


def kernels_for(device: torch.device) -> ModuleType | None:
    """The kernels that serve tensors on ``device`` (CPU or CUDA), or None (off, or not buildable here)."""
    if device.type == "cpu":
        return cpu_kernels()
    if device.type == "cuda" and os.environ.get(CUDA_TWINS_SWITCH) == "1":
        return cuda_kernels()
    return None


def cpu_kernels(verbose: bool = False) -> ModuleType | None:
    """The compiled CPU kernels (built on the first call of a process, or loaded from the cache), or None when
    they are off or cannot be built."""
    if not _enabled:
        return None
    return _load_once("cpu", lambda: _build(CPU_MODULE, CPU_SOURCES, verbose, cuda=False))


def cuda_kernels(verbose: bool = False, compile_only: bool = False) -> ModuleType | None:
    """The compiled CUDA twins, or None (off, no GPU, or no toolchain). ``compile_only``: build them even without
    a GPU (to check that they compile; importing them may then fail, which is reported, not raised)."""
    if not _enabled or not (compile_only or torch.cuda.is_available()):
        return None
    if not torch.cuda.is_available():
        os.environ.setdefault("TORCH_CUDA_ARCH_LIST", DEFAULT_CUDA_ARCHS)
    return _load_once("cuda", lambda: _build(CUDA_MODULE, CUDA_SOURCES, verbose, cuda=True))


def _load_once(kind: str, build) -> ModuleType | None:  # noqa: ANN001
    if kind not in _loaded:
        try:
            _loaded[kind] = build()
        except Exception as error:  # no compiler, no headers, a failed build: the torch path serves
            _loaded[kind] = None
            text = str(error).strip()
            reason = text.splitlines()[0] if text else type(error).__name__
            CONSOLE.print(f"[yellow]rad-nerfstudio: fused {kind.upper()} kernels unavailable ({reason}); torch path")
    return _loaded[kind]


def sources_digest(sources: tuple[str, ...]) -> str:
    """A hash of a module's sources and of the shared headers: torch's builder rebuilds when its sources change,
    not when a header does, so the digest goes into the build flags."""
    digest = hashlib.sha256()
    for name in (*sources, *HEADERS):
        digest.update((SOURCES / name).read_bytes())
    return digest.hexdigest()[:16]


def host_digest() -> str:
    """A hash of this CPU's model and instruction-set flags: the CPU kernels are compiled for the machine that
    builds them (``-march=native``), so a cache shared with another kind of CPU rebuilds instead of crashing."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    described = [line for line in lines if line.split(":")[0].strip() in ("model name", "flags", "Features")]
    text = "\n".join(dict.fromkeys(described)) or platform.machine() + platform.processor()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _build(name: str, sources: tuple[str, ...], verbose: bool, cuda: bool) -> ModuleType:
    # torch warns on import when it finds nvcc but no GPU: expected here, not the user's concern
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    # no fused multiply-adds: the kernels round as their torch references do
    cflags = ["-O3", "-std=c++17", "-ffp-contract=off", f"-DRAD_KERNELS_DIGEST={sources_digest(sources)}"]
    if cuda:
        link = [f"-L{folder}" for folder in _cuda_runtime_folders()]
        cuda_flags = ["-O3", "--fmad=false", "-std=c++17"]
        return _load(name, sources, verbose, extra_cflags=cflags, extra_cuda_cflags=cuda_flags, extra_ldflags=link)
    openmp = ["-fopenmp"]
    native = ["-march=native", f"-DRAD_HOST_DIGEST={host_digest()}"]  # this CPU's vector instructions
    try:
        return _load(name, sources, verbose, extra_cflags=[*cflags, *native, *openmp], extra_ldflags=openmp)
    except Exception as error:  # a compiler without -march=native: the portable build
        CONSOLE.print(f"[yellow]rad-nerfstudio: -march=native build failed ({type(error).__name__}); portable build")
    return _load(name, sources, verbose, extra_cflags=[*cflags, *openmp], extra_ldflags=openmp)


def _load(
    name: str,
    sources: tuple[str, ...],
    verbose: bool,
    extra_cflags: list[str],
    extra_ldflags: list[str],
    extra_cuda_cflags: list[str] | None = None,
) -> ModuleType:
    """The kernels built by torch's extension builder with these flags (or loaded from its cache)."""
    from torch.utils.cpp_extension import load

    module = load(
        name=name,
        sources=[str(SOURCES / s) for s in sources],
        extra_cflags=extra_cflags,
        extra_ldflags=extra_ldflags,
        extra_cuda_cflags=extra_cuda_cflags,
        verbose=verbose,
    )
    if not isinstance(module, ModuleType):
        raise RuntimeError(f"torch's extension builder returned {module!r}, not a module")
    return module


def _cuda_runtime_folders() -> list[str]:
    """Folders holding ``libcudart.so`` that torch's builder may not look in: it links against
    ``$CUDA_HOME/lib64``, while a toolkit found through ``/usr/local/bin/nvcc`` keeps it in
    ``/usr/local/cuda-<version>/lib`` (so on these machines)."""
    from torch.utils.cpp_extension import CUDA_HOME

    roots = [Path(CUDA_HOME)] if CUDA_HOME else []
    roots += sorted(Path("/usr/local").glob("cuda*"))
    folders = [root / lib for root in roots for lib in ("lib64", "lib", "targets/x86_64-linux/lib")]
    return [str(folder) for folder in folders if (folder / "libcudart.so").exists()][:1]
