"""Reading a CTranslate2 model.bin: the variables asked for, their types, and files that are not one."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from rad_nerfstudio.audio.ctranslate2_weights import ModelFileError, read_ctranslate2_variables


def _string(text: str) -> bytes:
    encoded = text.encode() + b"\0"
    return struct.pack("H", len(encoded)) + encoded


def _model_bin(variables: list[tuple[str, np.ndarray, int]], version: int = 6) -> bytes:
    """A model.bin as CTranslate2's converters write it: header, then (name, rank, shape, type code, size, bytes)."""
    out = struct.pack("I", version) + _string("TestSpec") + struct.pack("I", 1) + struct.pack("I", len(variables))
    for name, array, code in variables:
        raw = array.tobytes()
        out += _string(name) + struct.pack("B", array.ndim) + b"".join(struct.pack("I", d) for d in array.shape)
        out += struct.pack("B", code) + struct.pack("I", len(raw)) + raw
    return out + struct.pack("I", 0)  # no aliases


def test_the_variables_under_the_prefixes_come_back_as_tensors(tmp_path):
    weight = np.arange(6, dtype=np.float16).reshape(2, 3) / 4
    bias = np.array([1.5, -2.0], dtype=np.float32)
    bfloat = (np.array([0.5, -3.0], dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    heads = np.array(8, dtype=np.int16)
    path = tmp_path / "model.bin"
    path.write_bytes(
        _model_bin(
            [
                ("decoder/big", np.zeros((64, 64), np.float16), 4),
                ("encoder/w", weight, 4),
                ("encoder/b", bias, 0),
                ("encoder/bf", bfloat, 5),
                ("encoder/num_heads", heads, 2),
            ]
        )
    )
    read = read_ctranslate2_variables(path, ("encoder/",))
    assert sorted(read) == ["encoder/b", "encoder/bf", "encoder/num_heads", "encoder/w"]  # the decoder skipped
    torch.testing.assert_close(read["encoder/w"], torch.from_numpy(weight.astype(np.float32)))
    assert read["encoder/w"].dtype == torch.float32 and read["encoder/b"].tolist() == [1.5, -2.0]
    assert read["encoder/bf"].tolist() == [0.5, -3.0] and int(read["encoder/num_heads"]) == 8
    assert sorted(read_ctranslate2_variables(path)) == sorted([*read, "decoder/big"])


def test_a_file_that_is_not_a_model_or_is_cut_short_is_refused_by_name(tmp_path):
    whole = _model_bin([("encoder/w", np.ones((4, 4), np.float32), 0)])
    short = tmp_path / "short.bin"
    short.write_bytes(whole[:-20])
    with pytest.raises(ModelFileError, match=r"short\.bin: cut short"):
        read_ctranslate2_variables(short)
    old = tmp_path / "old.bin"
    old.write_bytes(_model_bin([], version=2))
    with pytest.raises(ModelFileError, match=r"old\.bin: CTranslate2 model format 2"):
        read_ctranslate2_variables(old)
    odd = tmp_path / "odd.bin"
    odd.write_bytes(_model_bin([("encoder/w", np.ones(2, np.float32), 9)]))
    with pytest.raises(ModelFileError, match="data type code 9"):
        read_ctranslate2_variables(odd)
