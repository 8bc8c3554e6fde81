"""Atomic output: everything is written to a temporary sibling and renamed into place."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from rad_nerfstudio.errors import OutputFileError

FULL_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
"""Write failures that mean the disk (or the user's quota) is full."""


def _default_mode(directory: bool) -> int:
    """Permissions a plain ``open``/``mkdir`` would give under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def full_disk_error(path: Path, err: OSError) -> OutputFileError | None:
    """The clear error for a write to ``path`` that failed because the disk is full (None for other failures)."""
    if err.errno not in FULL_DISK_ERRNOS:
        return None
    return OutputFileError(path, f"cannot be written: {os.strerror(err.errno)} (nothing was written; free some space)")


@contextlib.contextmanager
def atomic_path(path: Path, keep_suffix: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` in one rename.

    With ``keep_suffix`` the temporary file keeps the suffix of ``path`` so writers that infer the format from the
    extension (OpenCV, soundfile) work unchanged; without it, it ends in ``.partial`` (a killed writer then leaves
    nothing that looks like the finished file). A full disk raises :class:`OutputFileError`; the temporary file is
    removed on any failure.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = f".tmp{path.suffix}" if keep_suffix else ".partial"
    prefix = f".{path.stem}." if keep_suffix else f".{path.name}."
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, _default_mode(directory=False))
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        clear = full_disk_error(path, err)
        if clear is None:
            raise
        raise clear from err
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Write an ``.npy`` file atomically (``np.save`` to a handle, so no suffix is appended to the temporary)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)


@contextlib.contextmanager
def atomic_directory(path: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``path`` when the block succeeds.

    Args:
        path: final directory. It must not exist, or be empty, unless ``overwrite`` is set.
        overwrite: replace an existing directory (only after the new one is complete).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a directory")
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(f"{path} exists and is not empty; pass --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    os.chmod(tmp, _default_mode(directory=True))
    try:
        yield tmp
        if path.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, trash / path.name)
            os.replace(tmp, path)
            shutil.rmtree(trash)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
