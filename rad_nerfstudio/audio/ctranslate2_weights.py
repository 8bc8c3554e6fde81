"""Reading a CTranslate2 ``model.bin`` (format version 6, as its Python converters write it) into tensors.

The file is a header (version, spec name, revision), then for each variable: its name, rank, shape, a data type code
and the raw bytes; aliases follow. Only the variables under the prefixes asked for are kept, the others skipped, so
Whisper's encoder can be read without its decoder.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Dict, Sequence

import numpy as np
import torch
from torch import Tensor

SUPPORTED_VERSIONS = (5, 6)
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
BFLOAT16 = 5


class ModelFileError(RuntimeError):
    """A ``model.bin`` that is not a CTranslate2 model this reader knows, or is cut short."""


def read_ctranslate2_variables(path: Path, prefixes: Sequence[str] = ("",)) -> Dict[str, Tensor]:
    """The variables of a CTranslate2 ``model.bin`` whose names start with one of ``prefixes``, as float32 tensors
    (integer variables keep their type)."""
    variables: Dict[str, Tensor] = {}
    with open(path, "rb") as handle:
        version = _unpack(handle, "I", path)
        if version not in SUPPORTED_VERSIONS:
            raise ModelFileError(f"{path}: CTranslate2 model format {version}, this reader knows {SUPPORTED_VERSIONS}")
        _read_string(handle, path)  # the spec's name
        _unpack(handle, "I", path)  # its revision
        for _ in range(_unpack(handle, "I", path)):
            name = _read_string(handle, path)
            shape = [_unpack(handle, "I", path) for _ in range(_unpack(handle, "B", path))]
            dtype, size = _unpack(handle, "B", path), _unpack(handle, "I", path)
            if not any(name.startswith(prefix) for prefix in prefixes):
                handle.seek(size, 1)
                continue
            data = handle.read(size)
            if len(data) != size:
                raise ModelFileError(f"{path}: cut short inside variable {name!r}")
            variables[name] = _tensor(data, dtype, shape, name, path)
    return variables


def _tensor(data: bytes, dtype: int, shape: list[int], name: str, path: Path) -> Tensor:
    if dtype == BFLOAT16:
        bits = np.frombuffer(data, np.uint16).astype(np.uint32) << 16
        return torch.from_numpy(bits.view(np.float32).reshape(shape).copy())
    if dtype not in DTYPES:
        raise ModelFileError(f"{path}: variable {name!r} has data type code {dtype}, which this reader does not know")
    array = np.frombuffer(data, DTYPES[dtype]).reshape(shape)
    return torch.from_numpy(array.astype(np.float32) if array.dtype.kind == "f" else array.copy())


def _unpack(handle: BinaryIO, code: str, path: Path) -> int:
    size = struct.calcsize(code)
    data = handle.read(size)
    if len(data) != size:
        raise ModelFileError(f"{path}: cut short (not a complete CTranslate2 model)")
    return struct.unpack(code, data)[0]


def _read_string(handle: BinaryIO, path: Path) -> str:
    length = _unpack(handle, "H", path)
    data = handle.read(length)
    if len(data) != length:
        raise ModelFileError(f"{path}: cut short inside a name")
    return data[:-1].decode("utf-8")  # written with a trailing NUL
