"""Random number generator states carried in checkpoints, so that a resumed run draws what an uninterrupted one would.

Attached to the pipeline as a module whose ``extra state`` holds the global torch / CUDA / numpy / Python states and
every ``torch.Generator`` the pipeline's modules keep (pixel samplers, occupancy updates, lips patches). nerfstudio
saves it with the pipeline and loads it non-strictly (older checkpoints without it load as before). Loaded states
are applied by ``apply_pending`` when training starts, after everything set up after loading has drawn its numbers.
"""

from __future__ import annotations

import random
from typing import Any, Dict, Iterator, Tuple

import numpy as np
import torch
from torch import nn

ATTRIBUTE = "rng_states"
"""Name of the module on the pipeline (its checkpoint key is ``rng_states._extra_state``)."""


def _generators(root: nn.Module) -> Iterator[Tuple[str, torch.Generator]]:
    for module_name, module in root.named_modules():
        for attribute, value in vars(module).items():
            if isinstance(value, torch.Generator):
                yield f"{module_name}.{attribute}", value


class RngStates(nn.Module):
    """The random states of a pipeline, as checkpoint state."""

    def __init__(self, pipeline: nn.Module) -> None:
        super().__init__()
        self._pipeline = [pipeline]  # a list: not a submodule (no recursion into the pipeline)
        self._pending: Dict[str, Any] | None = None

    def get_extra_state(self) -> Dict[str, Any]:
        version, mt_state, gauss = random.getstate()
        name, keys, position, has_gauss, cached = np.random.get_state()  # pyright: ignore[reportAssignmentType]
        state: Dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "numpy": {"keys": torch.from_numpy(np.asarray(keys).astype(np.int64)), "position": int(position)},
            "numpy_gauss": [int(has_gauss), float(cached)],
            "python": [version, list(mt_state), gauss],
            "generators": {name: generator.get_state() for name, generator in _generators(self._pipeline[0])},
        }
        assert name == "MT19937"
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def set_extra_state(self, state: Any) -> None:
        self._pending = state if isinstance(state, dict) else None

    def apply_pending(self) -> bool:
        """Restore the loaded states (once); False when none were loaded."""
        state, self._pending = self._pending, None
        if state is None:
            return False
        torch.set_rng_state(state["torch"])
        keys = state["numpy"]["keys"].numpy().astype(np.uint32)
        has_gauss, cached = state["numpy_gauss"]
        np.random.set_state(("MT19937", keys, state["numpy"]["position"], int(has_gauss), float(cached)))
        version, mt_state, gauss = state["python"]
        random.setstate((version, tuple(mt_state), gauss))
        generators = dict(_generators(self._pipeline[0]))
        for name, generator_state in state["generators"].items():
            if name in generators:
                generators[name].set_state(generator_state)
        if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
        return True


def attach(pipeline: nn.Module) -> RngStates:
    """Put an :class:`RngStates` on ``pipeline`` (idempotent)."""
    existing = getattr(pipeline, ATTRIBUTE, None)
    if isinstance(existing, RngStates):
        return existing
    module = RngStates(pipeline)
    pipeline.add_module(ATTRIBUTE, module)
    return module
