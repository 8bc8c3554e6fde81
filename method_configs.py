"""nerfstudio entry points of rad-nerfstudio, installed as ``rad_nerfstudio.method_configs``.

nerfstudio imports this module at every ``ns-*`` start, so the method specifications here build
configs only; models, audio encoders and kernels are imported when a model is constructed.
Importing it also makes checkpoints written by nerfstudio loadable under torch's ``weights_only`` rule.
"""

from __future__ import annotations

from rad_nerfstudio.checkpoint_compat import allow_numpy_scalars_in_checkpoints

allow_numpy_scalars_in_checkpoints()
