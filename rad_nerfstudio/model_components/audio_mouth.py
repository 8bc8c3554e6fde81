"""What the audio code knows about the mouth: a supervised readout of the landmarks' mouth shape, and a diagnostic.

A photometric loss reaches the audio encoder only through the few hundred pixels of the mouth, and on a short clip
the code learns to tell frames apart rather than what the mouth does. The readout is a linear map from the code to
each frame's mouth opening and width (from its landmarks, standardised over the training frames); its loss gives
the encoder a dense, low-dimensional target. The diagnostic fits a ridge readout on the training frames' codes and
reports its correlation with the landmarks' opening on held-out frames: how much of the mouth's motion the code
carries, which bounds what a render driven by it can show (no render needed).
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from rad_nerfstudio.evaluation.mouth_shape import pearson_r

MOUTH_DIM = 2
"""Opening and width (``data.landmarks.mouth_shape``)."""


def standardised_mouth(
    mouth_shape: Float[Tensor, "frames 2"], train_rows: Int[Tensor, " n"]
) -> Float[Tensor, "frames 2"]:
    """Every frame's mouth shape standardised over the training frames (what the audio learns to predict)."""
    train = mouth_shape[train_rows]
    return (mouth_shape - train.mean(0)) / train.std(0).clamp_min(1e-6)


class AudioMouthReadout(nn.Module):
    """Linear audio code -> standardised (opening, width) of the mouth, with the per-frame targets it learns."""

    targets: Tensor

    def __init__(self, code_dim: int, mouth_shape: Float[Tensor, "frames 2"], train_rows: Int[Tensor, " n"]) -> None:
        super().__init__()
        # derived from the dataset at every start: not saved with the weights
        self.register_buffer("targets", standardised_mouth(mouth_shape, train_rows), persistent=False)
        self.linear = nn.Linear(code_dim, mouth_shape.shape[-1])

    def forward(self, codes: Float[Tensor, "n code"]) -> Float[Tensor, "n 2"]:
        return self.linear(codes)

    def loss(self, predicted: Float[Tensor, "n 2"], rows: Int[Tensor, " n"]) -> Tensor:
        """Mean squared error against the frames' standardised mouth shape."""
        return ((predicted - self.targets[rows]) ** 2).mean()


def ridge_readout(
    train_codes: Float[Tensor, "n code"],
    train_opening: Float[Tensor, " n"],
    held_out_codes: Float[Tensor, "m code"],
    ridge: float = 1e-2,
) -> Float[Tensor, " m"]:
    """The opening of the held-out frames predicted by a ridge regression from code to opening fitted on the training
    frames (codes standardised first, so that ``ridge`` means the same for any code size), in float64."""
    mean, scale = train_codes.mean(0), train_codes.std(0).clamp_min(1e-6)

    def design(codes: Tensor) -> Tensor:
        standard = (codes.double() - mean.double()) / scale.double()
        return torch.cat([standard, torch.ones_like(standard[:, :1])], dim=1)

    x, y = design(train_codes), train_opening.double()
    weights = torch.linalg.solve(x.T @ x + ridge * len(x) * torch.eye(x.shape[1], dtype=x.dtype), x.T @ y)
    return design(held_out_codes) @ weights


def ridge_readout_r(
    train_codes: Float[Tensor, "n code"],
    train_opening: Float[Tensor, " n"],
    held_out_codes: Float[Tensor, "m code"],
    held_out_opening: Float[Tensor, " m"],
    ridge: float = 1e-2,
) -> float:
    """Pearson r on the held-out frames of ``ridge_readout``'s prediction; NaN when undefined."""
    predicted = ridge_readout(train_codes, train_opening, held_out_codes, ridge)
    return pearson_r(predicted.cpu().numpy(), held_out_opening.double().cpu().numpy())
