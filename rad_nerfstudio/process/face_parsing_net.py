"""Semantic parsing with the face-parsing BiSeNet (CelebAMask-HQ, 19 classes) when the user supplies its weights
(the ``79999_iter.pth`` state dict the anchors' preprocessing uses), mapped to head / neck / torso / background.

The network: torchvision's ResNet-18 trunk (features at 1/8, 1/16, 1/32), attention refinement of the 1/16 and
1/32 features with a global-context term, a feature-fusion module and a classifier; parameter names follow that
checkpoint so it loads strictly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float, UInt8
from torch import Tensor, nn

from rad_nerfstudio.errors import InputFileError
from rad_nerfstudio.process.parsing import HEAD, NECK, TORSO

NUM_CLASSES = 19
"""CelebAMask-HQ: 0 background, 1 skin, 2-3 brows, 4-5 eyes, 6 glasses, 7-8 ears, 9 earring, 10 nose, 11 mouth,
12-13 lips, 14 neck, 15 necklace, 16 cloth, 17 hair, 18 hat."""
CLASS_TO_LABEL = np.array([0] + [HEAD] * 13 + [NECK, NECK, TORSO, HEAD, HEAD], dtype=np.uint8)
"""Our parsing label of each CelebAMask-HQ class."""
INPUT_SIZE = 512
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ConvBnRelu(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


class AttentionRefinement(nn.Module):
    """Features reweighted channel-wise by a sigmoid of their global average."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ConvBnRelu(in_channels, out_channels)
        self.conv_atten = nn.Conv2d(out_channels, out_channels, 1, bias=False)
        self.bn_atten = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        features = self.conv(x)
        weights = torch.sigmoid(self.bn_atten(self.conv_atten(F.adaptive_avg_pool2d(features, 1))))
        return features * weights


class ResNet18Trunk(nn.Module):
    """torchvision's ResNet-18 without its classifier; returns the 1/8, 1/16 and 1/32 feature maps."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnet18

        trunk = resnet18(weights=None)
        self.conv1, self.bn1, self.maxpool = trunk.conv1, trunk.bn1, trunk.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.layer1(self.maxpool(F.relu(self.bn1(self.conv1(x)))))
        eighth = self.layer2(x)
        sixteenth = self.layer3(eighth)
        return eighth, sixteenth, self.layer4(sixteenth)


class ContextPath(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.resnet = ResNet18Trunk()
        self.arm16 = AttentionRefinement(256, 128)
        self.arm32 = AttentionRefinement(512, 128)
        self.conv_head32 = ConvBnRelu(128, 128)
        self.conv_head16 = ConvBnRelu(128, 128)
        self.conv_avg = ConvBnRelu(512, 128, kernel=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        eighth, sixteenth, thirtysecond = self.resnet(x)
        context = self.conv_avg(F.adaptive_avg_pool2d(thirtysecond, 1))
        up32 = F.interpolate(self.arm32(thirtysecond) + context, size=sixteenth.shape[2:], mode="nearest")
        up32 = self.conv_head32(up32)
        up16 = F.interpolate(self.arm16(sixteenth) + up32, size=eighth.shape[2:], mode="nearest")
        return eighth, self.conv_head16(up16)


class FeatureFusion(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.convblk = ConvBnRelu(in_channels, out_channels, kernel=1)
        self.conv1 = nn.Conv2d(out_channels, out_channels // 4, 1, bias=False)
        self.conv2 = nn.Conv2d(out_channels // 4, out_channels, 1, bias=False)

    def forward(self, spatial: Tensor, context: Tensor) -> Tensor:
        features = self.convblk(torch.cat([spatial, context], dim=1))
        weights = torch.sigmoid(self.conv2(F.relu(self.conv1(F.adaptive_avg_pool2d(features, 1)))))
        return features * (1 + weights)


class Classifier(nn.Module):
    def __init__(self, in_channels: int, mid_channels: int, classes: int) -> None:
        super().__init__()
        self.conv = ConvBnRelu(in_channels, mid_channels)
        self.conv_out = nn.Conv2d(mid_channels, classes, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_out(self.conv(x))


class FaceParsingNet(nn.Module):
    """BiSeNet for face parsing: class logits at the input's resolution."""

    def __init__(self, classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.cp = ContextPath()
        self.ffm = FeatureFusion(256, 256)
        self.conv_out = Classifier(256, 256, classes)
        self.conv_out16 = Classifier(128, 64, classes)  # auxiliary heads of training, kept so the checkpoint loads
        self.conv_out32 = Classifier(128, 64, classes)

    def forward(self, images: Float[Tensor, "b 3 h w"]) -> Float[Tensor, "b classes h w"]:
        eighth, context = self.cp(images)
        logits = self.conv_out(self.ffm(eighth, context))
        return F.interpolate(logits, size=images.shape[2:], mode="bilinear", align_corners=True)


def load_face_parsing_net(path: Path) -> FaceParsingNet:
    """The network with the user's weights, in eval mode; a clear error when the file is not such a state dict."""
    if not path.is_file():
        raise InputFileError(path, "does not exist (face-parsing weights, e.g. 79999_iter.pth)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - unpickling errors come in many types
        raise InputFileError(path, f"cannot be read as a PyTorch state dict ({type(error).__name__})") from error
    net = FaceParsingNet()
    if not isinstance(state, dict):
        raise InputFileError(path, f"holds a {type(state).__name__}, not a state dict")
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shape mismatches
        first_line = str(error).splitlines()[0]
        raise InputFileError(path, f"is not a face-parsing BiSeNet state dict ({first_line})") from error
    missing = [key for key in missing if not key.endswith("num_batches_tracked")]  # absent from some exports
    if missing or unexpected:
        shown = ", ".join((missing + unexpected)[:4])
        raise InputFileError(path, f"is not a face-parsing BiSeNet state dict (keys differ: {shown}, ...)")
    return net.eval()


def network_parsing(
    frames: Iterable[UInt8[np.ndarray, "h w 3"]], net: Callable[[Tensor], Tensor]
) -> Iterator[UInt8[np.ndarray, "h w"]]:
    """Our labels (``PARSING_CLASSES`` indices) of each RGB frame from the network's classes."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    for frame in frames:
        height, width = frame.shape[:2]
        image = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255.0
        image = F.interpolate(image, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        with torch.no_grad():
            logits = net((image - mean) / std)
        classes = F.interpolate(logits.argmax(1, keepdim=True).float(), size=(height, width), mode="nearest")
        yield CLASS_TO_LABEL[classes[0, 0].long().numpy()]
