"""The residual network of chapter 4: `Residual` blocks and a small `ResNet`, sized for 28 × 28
images (He et al., 2016)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ResNet", "Residual"]


class Residual(nn.Module):
    """ResNet's basic block: two 3 × 3 convolutions with batch normalization, and a skip
    connection that adds the input back before the last ReLU (He et al., 2016).

    `relu(bn2(conv2(relu(bn1(conv1(X))))) + shortcut(X))`, where the shortcut is the identity, or
    a 1 × 1 convolution with `stride` when `use_1x1conv` (needed when the channels or the size
    change). The convolutions before a BN layer have no bias: BN's shift does its job.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        stride: stride of the first 3 × 3 convolution (and of the 1 × 1 one); 2 halves h and w.
        use_1x1conv: a 1 × 1 convolution on the shortcut; required unless
            `in_channels == out_channels` and `stride == 1`.

    Shape:
        X: `(batch, in_channels, h, w)` -> `(batch, out_channels, ceil(h / stride),
        ceil(w / stride))`.

    Example:
        >>> Residual(3, 3)(torch.zeros(2, 3, 6, 6)).shape
        torch.Size([2, 3, 6, 6])
        >>> Residual(3, 6, stride=2, use_1x1conv=True)(torch.zeros(2, 3, 6, 6)).shape
        torch.Size([2, 6, 3, 3])
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 use_1x1conv: bool = False):
        super().__init__()
        if not use_1x1conv and (in_channels != out_channels or stride != 1):
            raise ValueError(f"Residual(): in_channels={in_channels}, out_channels={out_channels}"
                             f", stride={stride} change the shape, so the input cannot be added "
                             "back as it is; pass use_1x1conv=True")
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1,
                               stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv3 = (nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride)
                      if use_1x1conv else None)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = F.relu(self.bn1(self.conv1(X)))                 # (batch, out_channels, h', w')
        Y = self.bn2(self.conv2(Y))
        shortcut = X if self.conv3 is None else self.conv3(X)
        return F.relu(Y + shortcut)


class ResNet(nn.Module):
    """A small ResNet for 28 × 28 images: a 3 × 3 stem, stages of `Residual` blocks, global
    average pooling and a linear layer.

    The stem is a 3 × 3 convolution to `channels[0]` with stride `stem_stride`, BN and ReLU,
    then (with `stem_pool=True`) a 2 × 2 max-pool.
    Stage i has `blocks_per_stage` blocks with `channels[i]` output channels; every
    stage after the first starts with a stride-2 block (1 × 1 shortcut) that halves h and w.

    Args:
        channels: output channels of each stage.
        blocks_per_stage: residual blocks per stage.
        num_classes: outputs (raw scores; use `nn.CrossEntropyLoss`).
        in_channels: channels of the input images.
        stem_stride: 2 halves h and w in the stem: everything after it costs 4 times less.
        stem_pool: a 2 × 2 max-pool ends the stem, which halves h and w as the original
            ResNet's stem does, after a convolution at full resolution.

    Shape:
        X: `(batch, in_channels, h, w)` -> `(batch, num_classes)`, for any h, w large enough to
        halve `len(channels) - 1` times (once more with `stem_stride=2`, and with `stem_pool`).

    Example:
        >>> net = ResNet(channels=(16, 32, 64))
        >>> net(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
        >>> sum(p.numel() for p in net.parameters())
        77658
    """

    def __init__(self, channels: Sequence[int] = (16, 32, 64), blocks_per_stage: int = 1,
                 num_classes: int = 10, in_channels: int = 1, stem_stride: int = 1,
                 stem_pool: bool = False):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels[0], kernel_size=3, padding=1,
                                            stride=stem_stride, bias=False),
                                  nn.BatchNorm2d(channels[0]), nn.ReLU(),
                                  *([nn.MaxPool2d(2)] if stem_pool else []))
        blocks, previous = [], channels[0]
        for i, c in enumerate(channels):
            for j in range(blocks_per_stage):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(Residual(previous, c, stride=stride,
                                       use_1x1conv=stride != 1 or previous != c))
                previous = c
        self.stages = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (batch, channels)
                                  nn.Linear(previous, num_classes))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(X)))
