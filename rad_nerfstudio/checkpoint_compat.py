"""Let torch's ``weights_only`` loader read the checkpoints nerfstudio writes.

torch >= 2.6 loads with ``weights_only=True``; nerfstudio 1.1.5's ``ExponentialDecayScheduler`` puts
numpy float64 learning rates into the optimizer and scheduler state, so ``ns-eval``, ``ns-render``,
``ns-viewer --load-config`` and ``--load-dir`` fail with ``UnpicklingError ... numpy.core.multiarray.scalar``.
Allow-listing exactly the numpy globals those states contain fixes that without trusting arbitrary pickles.
"""

from __future__ import annotations


def allow_numpy_scalars_in_checkpoints() -> None:
    """Register numpy scalar/dtype globals as safe for ``torch.load(weights_only=True)``. Idempotent."""
    import numpy as np
    import torch.serialization
    from numpy.core.multiarray import scalar  # pyright: ignore[reportAttributeAccessIssue]

    safe = [scalar, np.dtype, type(np.dtype(np.float64)), type(np.dtype(np.int64))]
    torch.serialization.add_safe_globals(safe)
