"""Checkpoints checked before they are loaded.

A truncated file, another method's checkpoint (er-nerf into rad-nerf, a nerfacto one) or another dataset's gets
a :class:`CheckpointError` naming the file and the mismatch, instead of torch's stack of ``state_dict`` key errors
(or, worse, nerfstudio's silent fallback to a non-strict load).
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Mapping

from torch import Tensor, nn

from rad_nerfstudio.errors import CheckpointError

_STEP_NAME = re.compile(r"^step-(\d+)\.ckpt$")
MODEL_PREFIX = "_model."
QUOTES = "'\""
EXAMPLES = 3
"""Keys quoted per kind of mismatch."""


def checkpoint_step(path: Path) -> int | None:
    """The step in a nerfstudio checkpoint's name (``step-000000123.ckpt``), None for other files."""
    match = _STEP_NAME.match(Path(path).name)
    return int(match.group(1)) if match else None


def find_checkpoint(directory: Path, step: int | None = None) -> Path:
    """The checkpoint of ``step`` in a run's ``nerfstudio_models`` folder, or its latest; other files are ignored."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(directory, "does not exist (a run's nerfstudio_models folder of step-*.ckpt files)")
    if step is not None:
        path = directory / f"step-{step:09d}.ckpt"
        if not path.is_file():
            raise CheckpointError(path, "does not exist")
        return path
    found = sorted((s, p) for p in directory.iterdir() if (s := checkpoint_step(p)) is not None and p.is_file())
    if not found:
        raise CheckpointError(directory, "holds no step-*.ckpt checkpoint")
    return found[-1][1]


def read_checkpoint(path: Path) -> Dict[str, Any]:
    """A nerfstudio training checkpoint (``step``, ``pipeline``, ...) read on the CPU."""
    import torch

    from rad_nerfstudio.checkpoint_compat import allow_numpy_scalars_in_checkpoints

    allow_numpy_scalars_in_checkpoints()
    if not Path(path).is_file():
        raise CheckpointError(path, "does not exist")
    try:
        state = torch.load(path, map_location="cpu")
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(path, f"holds objects torch's weights-only loader refuses ({first})") from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(path, f"cannot be read: it is truncated or damaged ({first})") from err
    if not isinstance(state, dict) or not isinstance(state.get("pipeline"), Mapping) or "step" not in state:
        found = sorted(map(str, state))[:6] if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(path, f"is not a nerfstudio training checkpoint (no 'step' or 'pipeline'; has {found})")
    return state


def _origin(path: Path, keys: List[str], method: str) -> str:
    """Which method wrote the checkpoint, when its keys or its run's config.yml say it is another one."""
    nerfacto = (f"{MODEL_PREFIX}proposal_networks", f"{MODEL_PREFIX}field.mlp_base")
    if any(k.startswith(nerfacto) for k in keys):
        return "its keys are nerfacto's"
    config = Path(path).parent.parent / "config.yml"
    if config.is_file():
        match = re.search(r"^method_name: *(\S+)", config.read_text(errors="replace"), re.MULTILINE)
        if match and match.group(1).strip(QUOTES) != method:
            return f"it was written by {match.group(1).strip(QUOTES)} ({config})"
    return ""


def _quote(keys: List[str]) -> str:
    shown = ", ".join(k[len(MODEL_PREFIX) :] if k.startswith(MODEL_PREFIX) else k for k in keys[:EXAMPLES])
    return shown + (", ..." if len(keys) > EXAMPLES else "")


def check_checkpoint_fits(path: Path, state: Mapping[str, Any], pipeline: nn.Module, method: str) -> None:
    """The checkpoint's model tensors must be exactly this pipeline's model's (names and shapes); the data manager's
    (e.g. error maps) must have the same shapes where both have them."""
    loaded = {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state["pipeline"].items()}
    expected = pipeline.state_dict()
    model_expected = {k for k in expected if k.startswith(MODEL_PREFIX)}
    model_loaded = {k for k in loaded if k.startswith(MODEL_PREFIX)}
    missing = sorted(model_expected - model_loaded)
    unexpected = sorted(model_loaded - model_expected)
    reshaped = sorted(
        k
        for k in set(expected) & set(loaded)
        if isinstance(expected[k], Tensor) and isinstance(loaded[k], Tensor) and expected[k].shape != loaded[k].shape
    )
    if not (missing or unexpected or reshaped):
        return
    parts = []
    origin = _origin(path, sorted(loaded), method)
    if origin:
        parts.append(origin)
    if unexpected:
        parts.append(f"{len(unexpected)} of its tensors are unknown here ({_quote(unexpected)})")
    if missing:
        parts.append(f"{len(missing)} tensors this model needs are missing ({_quote(missing)})")
    if reshaped:
        shapes = ", ".join(
            f"{k.removeprefix(MODEL_PREFIX)} {list(loaded[k].shape)} vs {list(expected[k].shape)} here"
            for k in reshaped[:EXAMPLES]
        )
        more = ", ..." if len(reshaped) > EXAMPLES else ""
        hint = "" if missing or unexpected else "; another dataset, or other sizes?"
        parts.append(f"{len(reshaped)} tensors have other shapes ({shapes}{more}{hint})")
    model = type(getattr(pipeline, "model", pipeline)).__name__
    raise CheckpointError(path, f"is not a checkpoint of this {method} run's {model}: " + "; ".join(parts))
