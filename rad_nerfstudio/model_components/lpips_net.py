"""LPIPS (AlexNet) for the lips patch loss and evaluation, kept out of model parameters and checkpoints."""

from __future__ import annotations

from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor

ALEXNET_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"


class LpipsUnavailableError(RuntimeError):
    """LPIPS could not be built (typically: AlexNet's ImageNet weights cannot be downloaded)."""


class Lpips:
    """LPIPS distance between images in [0, 1] (the network is moved to the images' device on use).

    ``pretrained=False`` builds a random AlexNet trunk (with LPIPS's bundled linear layers): it exercises the
    code path offline and is meant for tests only.
    """

    def __init__(self, pretrained: bool = True) -> None:
        import lpips  # heavy import (torchvision), only where LPIPS is used

        try:
            self.net = lpips.LPIPS(net="alex", pnet_rand=not pretrained, verbose=False).eval()
        except Exception as error:  # noqa: BLE001 - any download / load failure gets the same explanation
            checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
            raise LpipsUnavailableError(
                f"LPIPS needs torchvision's AlexNet ImageNet weights ({ALEXNET_URL}), downloaded once into "
                f"{checkpoints}; that failed: {type(error).__name__}: {error}. Connect once, or copy the file "
                "there; or train without the lips stage (--pipeline.model.lips-steps 0, its steps added to "
                "--pipeline.model.head-steps)"
            ) from error
        for parameter in self.net.parameters():
            parameter.requires_grad_(False)

    def __call__(
        self, prediction: Float[Tensor, "batch h w 3"], target: Float[Tensor, "batch h w 3"]
    ) -> Float[Tensor, " batch"]:
        """Per-image distance; gradients flow to ``prediction``."""
        self.net.to(prediction.device)
        return self.net(_to_lpips_input(prediction), _to_lpips_input(target)).reshape(-1)


def _to_lpips_input(images: Float[Tensor, "batch h w 3"]) -> Float[Tensor, "batch 3 h w"]:
    """Channels first, scaled to [-1, 1] as LPIPS expects."""
    return images.permute(0, 3, 1, 2) * 2 - 1
