"""Computed audio features cached in the dataset, with a record of what they were computed from.

``aud_mel.npy`` comes with ``aud_mel.npy.json``: the audio file's size, modification time and SHA-256, and the
extractor's name and settings. A cache whose record is missing (an older version wrote it), unreadable or
different is stale: the features are recomputed and the cache replaced atomically. A changed modification time
alone (a copied dataset) does not make it stale: the content hash decides.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict

import numpy as np
from jaxtyping import Float

from rad_nerfstudio.io.atomic import save_npy_atomic, write_text_atomic

CACHE_FORMAT = 1
"""Version of how cached windows are made from the extractor's output (bump to invalidate every cache)."""


def sidecar_path(cache: Path) -> Path:
    """The record beside a cache file."""
    return cache.with_name(cache.name + ".json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_record(audio: Path, extractor: str, settings: Dict[str, Any]) -> Dict[str, Any]:
    """What a cache of ``extractor``'s features of ``audio`` depends on."""
    stat = audio.stat()
    return {
        "format": CACHE_FORMAT,
        "audio": {"file": audio.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": file_sha256(audio)},
        "extractor": {"name": extractor, "settings": json.loads(json.dumps(settings))},
    }


def stale_reason(cache: Path, record: Dict[str, Any]) -> str | None:
    """Why the cache cannot be used for ``record`` (None: it can)."""
    sidecar = sidecar_path(cache)
    if not sidecar.is_file():
        return f"{cache.name} has no record of the audio it was computed from ({sidecar.name})"
    try:
        stored = json.loads(sidecar.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return f"its record {sidecar.name} cannot be read"
    if not isinstance(stored, dict) or stored.get("format") != record["format"]:
        return f"it was written in another cache format ({sidecar.name})"
    if stored.get("extractor") != record["extractor"]:
        return f"it was computed with other extractor settings ({stored.get('extractor')})"
    old, new = stored.get("audio") or {}, record["audio"]
    if old.get("sha256") != new["sha256"] or old.get("size") != new["size"]:
        return f"{new['file']} changed since it was computed ({old.get('size')} -> {new['size']} bytes, other content)"
    return None


def read_cache(cache: Path) -> Float[np.ndarray, "frames 16 dim"] | None:
    """The cached windows, or None when the file cannot be read as ``[N, 16, C]`` floats."""
    try:
        array = np.load(cache, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if array.ndim != 3 or not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)):
        return None
    return array


def write_cache(cache: Path, windows: Float[np.ndarray, "frames 16 dim"], record: Dict[str, Any]) -> None:
    """Replace the cache and its record; each file atomically, the record last (a cache without it is stale)."""
    sidecar = sidecar_path(cache)
    sidecar.unlink(missing_ok=True)
    save_npy_atomic(cache, windows)
    write_text_atomic(sidecar, json.dumps(record, indent=2))
