"""Per-frame head-pose corrections refined against the pixels (nerfstudio's camera optimizer, applied to the head).

The tables hold each frame's head pose as a camera-to-world matrix with the head at the world origin. A correction
``A = [R | t]`` (nerfstudio's ``CameraOptimizer``: one SO3xR3 tangent vector per frame, identity at zero, its L2
regulariser and metrics) maps it to ``A @ c2w``: the camera turns about the head's centre, which is what an error of
the landmark fit is. nerfstudio's own ``apply_to_raybundle`` cannot serve here: it indexes a split's cameras, not the
tables' rows, and turns the rays about the camera's centre, so a head rotation would need a large translation too.

Held-out frames have no training rays; ``held_out`` is a second, unsaved tangent vector per frame that the test-time
alignment (``evaluation.pose_alignment``) fits with the field frozen. The same alignment run on the training frames
where the head's training ends (``absorb``) moves their trained corrections in one block step, which the joint
stochastic refinement alone does not: a frame sees a couple of rays per step, and the field learns to hide its pose's
error faster than the pose learns to remove it.
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
from jaxtyping import Float, Int
from nerfstudio.cameras.camera_optimizers import CameraOptimizer, CameraOptimizerConfig
from nerfstudio.cameras.lie_groups import exp_map_SO3xR3
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation
from torch import Tensor, nn


def compose(correction: Float[Tensor, "n 3 4"], pose: Float[Tensor, "n 3 4"]) -> Float[Tensor, "n 3 4"]:
    """``correction @ pose`` for 3x4 rigid transforms."""
    rotation = correction[:, :, :3] @ pose[:, :, :3]
    translation = correction[:, :, :3] @ pose[:, :, 3:] + correction[:, :, 3:]
    return torch.cat([rotation, translation], dim=-1)


def correct_rays(
    correction: Float[Tensor, "n 3 4"], origins: Float[Tensor, "n 3"], directions: Float[Tensor, "n 3"]
) -> Tuple[Float[Tensor, "n 3"], Float[Tensor, "n 3"]]:
    """Rays of cameras moved by ``correction`` (applied in the world, about the head at the origin)."""
    rotation, translation = correction[:, :, :3], correction[:, :, 3]
    return (rotation @ origins[..., None])[..., 0] + translation, (rotation @ directions[..., None])[..., 0]


def smooth_over_consecutive_frames(
    rows: Int[Tensor, " n"], tangents: Float[Tensor, "n 6"], sigma: float
) -> Float[Tensor, "n 6"]:
    """Tangent vectors smoothed in time (Gaussian of ``sigma`` frames) within each run of consecutive rows; rows that
    are not neighbours (a held-out frame or a cut between them) are not mixed. ``sigma`` 0 returns them as they are."""
    if sigma <= 0 or len(rows) < 2:
        return tangents
    order = torch.argsort(rows.cpu())
    values = tangents.detach().cpu().double().numpy()[order.numpy()]
    breaks = (torch.diff(rows.cpu()[order]) != 1).nonzero()[:, 0].add(1).tolist()
    smoothed = values.copy()
    for run in torch.tensor_split(torch.arange(len(rows)), breaks):
        if len(run) > 1:
            smoothed[run.numpy()] = gaussian_filter1d(values[run.numpy()], sigma, axis=0, mode="nearest")
    result = torch.empty_like(tangents)
    result[order.to(tangents.device)] = torch.from_numpy(smoothed).to(tangents)
    return result


class HeadPoseCorrection(nn.Module):
    """Each frame's head-pose correction: the trained one (``camera_optimizer``) then the held-out alignment's."""

    def __init__(self, config: CameraOptimizerConfig, num_frames: int, smoothness_mult: float) -> None:
        super().__init__()
        self.camera_optimizer: CameraOptimizer = config.setup(num_cameras=num_frames, device="cpu")
        self.num_frames = num_frames
        self.smoothness_mult = smoothness_mult
        self.held_out: Float[Tensor, "frames 6"] | None = None
        """Test-time tangent vectors (not saved); None: no alignment."""

    @property
    def refining(self) -> bool:
        """Whether training refines the poses."""
        return self.camera_optimizer.config.mode != "off"

    @property
    def active(self) -> bool:
        """Whether any frame's pose may differ from the table's."""
        return self.refining or self.held_out is not None

    def forward(self, rows: Int[Tensor, " n"]) -> Float[Tensor, "n 3 4"]:
        """The correction of each row's frame (identity where there is none)."""
        rows = rows.long()
        if self.refining:
            correction = self.camera_optimizer(rows.to(self.camera_optimizer.pose_adjustment.device))
        else:
            correction = torch.eye(4, device=rows.device)[None, :3, :4].expand(rows.shape[0], 3, 4)
        if self.held_out is not None:
            correction = compose(exp_map_SO3xR3(self.held_out[rows]), correction)
        return correction

    @torch.no_grad()
    def absorb(self, rows: Int[Tensor, " n"], fitted: Float[Tensor, "n 6"]) -> None:
        """Fold corrections fitted on top of the trained ones (``held_out``'s tangent vectors, one per row) into the
        trained ones: each frame's trained correction becomes ``exp(fitted) @ exp(trained)``."""
        adjustment = self.camera_optimizer.pose_adjustment
        rows = rows.long().to(adjustment.device)
        combined = compose(exp_map_SO3xR3(fitted.to(adjustment)), exp_map_SO3xR3(adjustment[rows]))
        rotation = Rotation.from_matrix(combined[:, :, :3].double().cpu().numpy()).as_rotvec()
        adjustment[rows, :3] = combined[:, :, 3]
        adjustment[rows, 3:] = torch.from_numpy(rotation).to(adjustment)

    def losses(self, train_rows: Int[Tensor, " n"]) -> Dict[str, Tensor]:
        """nerfstudio's L2 regulariser, and the smoothness in time: squared differences between the tangent vectors
        of consecutive training frames, summed (each frame's own rays are few, so neighbours share their evidence)."""
        if not self.refining:
            return {}
        losses: Dict[str, Tensor] = {}
        self.camera_optimizer.get_loss_dict(losses)
        if self.smoothness_mult > 0 and train_rows.numel() > 1:
            rows = train_rows.sort().values
            neighbours = rows.diff() == 1
            tangents = self.camera_optimizer.pose_adjustment[rows.to(self.camera_optimizer.pose_adjustment.device)]
            steps = (tangents[1:] - tangents[:-1])[neighbours.to(tangents.device)]
            losses["pose_smoothness_loss"] = self.smoothness_mult * steps.square().sum()
        return losses

    def metrics(self) -> Dict[str, Tensor]:
        """nerfstudio's camera-optimizer metrics (mean and max translation, rotation in degrees)."""
        metrics: Dict[str, Tensor] = {}
        if self.refining:
            self.camera_optimizer.get_metrics_dict(metrics)
        return metrics
