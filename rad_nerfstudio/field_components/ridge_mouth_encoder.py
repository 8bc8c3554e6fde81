"""The mouth's shape predicted from the audio by a ridge regression, fitted in closed form on the training frames.

On a short clip AudioNet (a few thousand weights per channel) fits its training frames exactly and generalises
poorly on real speech: on the real clip in ``shared/real`` its landmark mouth opening reaches r 0.40-0.43 on
held-out blocks (5-fold blocked cross-validation over the whole clip), a ridge regression on time-pooled log-mel
context r 0.56 (on the held-out looks' synthetic speech AudioNet 0.87, the ridge 0.85). This encoder is that
regression: each frame's code is the predicted (opening, width) of its mouth, standardised over the training
frames, and the head field reads it directly (the frames' own landmarks in training, the prediction everywhere
else). The ridge strength is chosen by the same blocked cross-validation on the training frames, so nothing is
tuned to a dataset.

A ridge prediction is shrunk towards the mean (on the real clip its held-out spread is about half the landmarks'),
and a head that reads it opens its mouth half as far as the person does: the render's opening then varies little
against the detector's noise. With ``full_spread`` (the default) the fit scales each prediction's deviation from
the mean so that its spread on the cross-validation's held-out blocks matches the targets' there (at most
``MAX_SPREAD_GAIN`` times): r against any opening is unchanged, the rendered mouth opens as far as the real one.

With ``within_training_range`` (the default) every prediction is clamped to the range the training frames' own
mouths span, per output: the head never saw a mouth more closed than the most closed training frame, and asked for
one it extrapolates (on the real clip, a prediction 1.4 times past the most closed training mouth rendered the widest
open mouth of the validation tail).
"""

from __future__ import annotations

from typing import Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from rad_nerfstudio.audio.windows import WINDOW, neighbour_windows
from rad_nerfstudio.evaluation.mouth_shape import pearson_r
from rad_nerfstudio.field_components.audio_encoder import AudioEncoder

RIDGE_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
"""Candidate ridge strengths, per training frame (the penalty is ``strength * frames``)."""
FOLDS = 5
"""Contiguous blocks of the training frames for choosing the ridge strength."""
MAX_SPREAD_GAIN = 3.0
"""The most a prediction's deviation from the mean is scaled to match the targets' spread (a regression that finds
nothing in the audio predicts nearly constant values, which no gain should blow up into noise)."""


class RidgeMouthEncoder(nn.Module):
    """Audio windows around a frame -> its mouth's standardised (opening, width); no trainable parameters.

    The regression reads the windows of the ``2 context + 1`` frames around a frame, each pooled to ``bins``
    steps in time (``[2c+1, bins, C]`` features), standardised over the training frames.
    """

    mean: Tensor
    scale: Tensor
    weights: Tensor
    strength: Tensor
    low: Tensor
    high: Tensor

    def __init__(self, in_dim: int, out_dim: int = 2, context: int = 2, bins: int = 4) -> None:
        super().__init__()
        if WINDOW % bins:
            raise ValueError(f"bins must divide the window of {WINDOW} feature frames, got {bins}")
        self.context, self.bins, self.code_dim = context, bins, out_dim
        features = (2 * context + 1) * bins * in_dim
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("scale", torch.ones(features))
        self.register_buffer("weights", torch.zeros(features + 1, out_dim))
        self.register_buffer("strength", torch.zeros(()))
        # the range of the training frames' mouths, set again by every fit (derived, not saved)
        self.register_buffer("low", torch.full((out_dim,), -torch.inf), persistent=False)
        self.register_buffer("high", torch.full((out_dim,), torch.inf), persistent=False)
        self._track: Tensor | None = None  # the track whose every frame's prediction is kept (encode_track)
        self._track_key: tuple = ()
        self._track_codes = torch.zeros(0, out_dim)
        self.spread_gain = torch.ones(out_dim)
        """Per output, the factor the last fit scaled the predictions' deviations by (1: ``full_spread`` off)."""
        self.cross_validated_r = float("nan")
        """Mean r of the first output on the held-out blocks at the chosen strength (the last fit)."""

    def features(
        self, windows: Float[Tensor, "track 16 channels"], centres: Int[Tensor, " n"]
    ) -> Float[Tensor, "n features"]:
        """Time-pooled windows of the frames around each centre (the edge windows beyond the track), flattened."""
        context = neighbour_windows(windows, centres, 2 * self.context + 1)  # [n, 2c+1, 16, C]
        pooled = context.reshape(*context.shape[:2], self.bins, WINDOW // self.bins, -1).mean(3)
        return pooled.reshape(centres.shape[0], -1)

    def encode_track(
        self, windows: Float[Tensor, "track 16 channels"], centres: Int[Tensor, " n"]
    ) -> Float[Tensor, "n out"]:
        """Predicted (standardised) mouth shape of the frames at ``centres`` of a window track. The prediction of
        every frame of the track is kept until another track (another tensor, or this one changed in place) or
        another fit comes: a training step asks for hundreds of frames of the same track, and the regression is
        fixed."""
        fitted = (self.weights, self.mean, self.scale, self.low, self.high)
        key = (windows._version, *(buffer._version for buffer in fitted), windows.device)
        if self._track is not windows or self._track_key != key:
            every_frame = torch.arange(windows.shape[0], device=windows.device)
            self._track_codes = torch.cat([self.predict(windows, part) for part in every_frame.split(1024)])
            self._track, self._track_key = windows, key
        return self._track_codes[centres]

    def predict(
        self, windows: Float[Tensor, "track 16 channels"], centres: Int[Tensor, " n"]
    ) -> Float[Tensor, "n out"]:
        """``encode_track`` computed afresh."""
        with torch.no_grad():
            predicted = _with_bias((self.features(windows, centres) - self.mean) / self.scale) @ self.weights
            return predicted.clamp(self.low, self.high)

    @torch.no_grad()
    def fit(
        self,
        windows: Float[Tensor, "track 16 channels"],
        centres: Int[Tensor, " n"],
        targets: Float[Tensor, "n out"],
        grid: Sequence[float] = RIDGE_GRID,
        full_spread: bool = True,
        within_training_range: bool = True,
    ) -> RidgeMouthEncoder:
        """Fit on training frames (``centres`` in time order), the strength chosen by blocked cross-validation
        (mean r of the first target on held-out blocks, a gap of the context around each block); with
        ``full_spread``, the predictions' deviations scaled to the targets' spread on those blocks; with
        ``within_training_range``, the predictions clamped to the targets' range."""
        x = self.features(windows, centres).double()
        y = targets.double()
        mean, scale = x.mean(0), x.std(0).clamp_min(1e-6)
        self.mean.copy_(mean.float())
        self.scale.copy_(scale.float())
        n, gap = x.shape[0], 2 * self.context + 1
        edges = torch.linspace(0, n, FOLDS + 1).long().tolist()
        scores = torch.zeros(len(grid))
        held_out_predictions: list[list[Tensor]] = [[] for _ in grid]
        held_out_targets: list[Tensor] = []
        for start, end in zip(edges[:-1], edges[1:], strict=True):
            keep = torch.ones(n, dtype=torch.bool)
            keep[max(0, start - gap) : end + gap] = False
            if int(keep.sum()) < 8 or end - start < 3:
                continue
            train, held_out = _standardised(x[keep], x[keep]), _standardised(x[start:end], x[keep])
            ridge = _RidgeSolutions(train, y[keep])
            held_out_targets.append(y[start:end])
            for k, strength in enumerate(grid):
                predicted = held_out @ ridge.weights(strength * int(keep.sum()))
                held_out_predictions[k].append(predicted)
                scores[k] += torch.tensor(pearson_r(predicted[:, 0].numpy(), y[start:end, 0].numpy())).nan_to_num(-1.0)
        best = int(scores.argmax())
        self.strength.fill_(grid[best])
        self.cross_validated_r = float(scores[best]) / max(1, len(held_out_targets))
        design = _with_bias((x - mean) / scale)
        weights = _RidgeSolutions(design, y).weights(grid[best] * n)
        self.spread_gain = torch.ones(y.shape[1])
        if full_spread and held_out_targets:
            self.spread_gain = _spread_gain(torch.cat(held_out_predictions[best]), torch.cat(held_out_targets))
            weights[:-1] *= self.spread_gain.double()  # features are centred on the training frames: the mean stays
        self.weights.copy_(weights.float())
        self.low.fill_(-torch.inf)
        self.high.fill_(torch.inf)
        if within_training_range:
            self.low.copy_(targets.min(0).values)
            self.high.copy_(targets.max(0).values)
        return self


def _spread_gain(predicted: Float[Tensor, "n out"], targets: Float[Tensor, "n out"]) -> Float[Tensor, " out"]:
    """Per output, the targets' standard deviation over the predictions' (held-out blocks), in [1, MAX_SPREAD_GAIN]."""
    ratio = targets.std(0) / predicted.std(0).clamp_min(1e-12)
    return ratio.nan_to_num(1.0).clamp(1.0, MAX_SPREAD_GAIN).float()


def _with_bias(standard: Tensor) -> Tensor:
    """Standardised features with a bias column last."""
    return torch.cat([standard, torch.ones_like(standard[:, :1])], dim=1)


def _standardised(rows: Tensor, reference: Tensor) -> Tensor:
    """``rows`` standardised over ``reference``, with a bias column last."""
    return _with_bias((rows - reference.mean(0)) / reference.std(0).clamp_min(1e-6))


class _RidgeSolutions:
    """Ridge weights for any penalty from one eigendecomposition: of the features' Gram matrix, or of the frames'
    kernel when there are more features than frames (``mel-whisper``'s context: 11 520 features, ~800 frames). The
    design's last column is the unpenalised bias; its other columns are centred over its rows, so the bias weight is
    the targets' mean."""

    def __init__(self, design: Float[Tensor, "n features_and_bias"], targets: Float[Tensor, "n out"]) -> None:
        self.features = design[:, :-1]
        self.mean = targets.mean(0)
        centred = targets - self.mean
        self.dual = self.features.shape[1] > self.features.shape[0]
        matrix = self.features @ self.features.T if self.dual else self.features.T @ self.features
        self.values, self.vectors = torch.linalg.eigh(matrix)
        self.projected = self.vectors.T @ (centred if self.dual else self.features.T @ centred)

    def weights(self, penalty: float) -> Float[Tensor, "features_and_bias out"]:
        solved = self.vectors @ (self.projected / (self.values + penalty)[:, None])
        return torch.cat([self.features.T @ solved if self.dual else solved, self.mean[None]])


class CodeBesideRidgeMouth(nn.Module):
    """An AudioNet code (trained with the head) beside the ridge regression's mouth shape: ``[code, mouth]``.

    The mouth says how far the lips part; the code is free to carry what two numbers do not (teeth, lip shape)."""

    def __init__(self, code: AudioEncoder, mouth: RidgeMouthEncoder) -> None:
        super().__init__()
        self.code, self.mouth = code, mouth
        self.code_dim = code.code_dim + mouth.code_dim

    def encode_track(
        self, windows: Float[Tensor, "track 16 channels"], centres: Int[Tensor, " n"]
    ) -> Float[Tensor, "n code_and_mouth"]:
        return torch.cat([self.code.encode_track(windows, centres), self.mouth.encode_track(windows, centres)], -1)
