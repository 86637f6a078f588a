"""The densely connected network of chapter 4: `DenseBlock`, `transition_block` and a small
`DenseNet`, sized for 28 × 28 images (Huang et al., 2017)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["DenseBlock", "DenseNet", "transition_block"]


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """DenseNet's convolution: BN, ReLU, then a 3 × 3 convolution (padding 1), in that order.

    Shape:
        X: `(batch, in_channels, h, w)` -> `(batch, out_channels, h, w)`.

    Example:
        >>> _conv_block(3, 8)(torch.zeros(2, 3, 5, 5)).shape
        torch.Size([2, 8, 5, 5])
    """
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Module):
    """A dense block: `num_convs` conv blocks, each seeing the concatenation of the block's input
    and every earlier conv block's output (Huang et al., 2017).

    Each conv block adds `growth_rate` channels, so the output has
    `in_channels + num_convs * growth_rate` channels (`out_channels`).

    Shape:
        X: `(batch, in_channels, h, w)` -> `(batch, in_channels + num_convs * growth_rate, h, w)`.

    Example:
        >>> block = DenseBlock(2, 3, growth_rate=10)
        >>> block(torch.zeros(4, 3, 8, 8)).shape, block.out_channels
        (torch.Size([4, 23, 8, 8]), 23)
    """

    def __init__(self, num_convs: int, in_channels: int, growth_rate: int):
        super().__init__()
        self.convs = nn.ModuleList(_conv_block(in_channels + i * growth_rate, growth_rate)
                                   for i in range(num_convs))
        self.out_channels = in_channels + num_convs * growth_rate

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            X = torch.cat((X, conv(X)), dim=1)      # (batch, channels + growth_rate, h, w)
        return X


def transition_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """DenseNet's transition layer: BN, ReLU, a 1 × 1 convolution to `out_channels`, then 2 × 2
    average pooling, which halves h and w.

    Shape:
        X: `(batch, in_channels, h, w)` -> `(batch, out_channels, h // 2, w // 2)`.

    Example:
        >>> transition_block(23, 10)(torch.zeros(4, 23, 8, 8)).shape
        torch.Size([4, 10, 4, 4])
    """
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, out_channels, kernel_size=1),
                         nn.AvgPool2d(kernel_size=2, stride=2))


class DenseNet(nn.Module):
    """A small DenseNet for 28 × 28 images: a 3 × 3 stem, dense blocks with transition layers
    between them (each halves the channels and h, w), then BN, ReLU, global average pooling and a
    linear layer.

    Args:
        num_convs_in_blocks: conv blocks in each dense block.
        growth_rate: channels each conv block adds.
        stem_channels: output channels of the stem (3 × 3 convolution, BN, ReLU).
        num_classes: outputs (raw scores).
        in_channels: channels of the input images.
        stem_stride: 2 halves h and w in the stem: everything after it costs 4 times less.

    Attributes:
        num_features: channels after the last dense block (the linear layer's input).

    Shape:
        X: `(batch, in_channels, h, w)` -> `(batch, num_classes)`, for any h, w large enough to
        halve `len(num_convs_in_blocks) - 1` times (once more with `stem_stride=2`).

    Example:
        >>> net = DenseNet((2, 2), growth_rate=16, stem_channels=16)
        >>> net(torch.zeros(2, 1, 28, 28)).shape, net.num_features
        (torch.Size([2, 10]), 56)
        >>> sum(p.numel() for p in net.parameters())
        18562
    """

    def __init__(self, num_convs_in_blocks: Sequence[int] = (2, 2), growth_rate: int = 16,
                 stem_channels: int = 16, num_classes: int = 10, in_channels: int = 1,
                 stem_stride: int = 1):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, kernel_size=3, padding=1, stride=stem_stride),
            nn.BatchNorm2d(stem_channels), nn.ReLU())
        blocks, channels = [], stem_channels
        for i, num_convs in enumerate(num_convs_in_blocks):
            block = DenseBlock(num_convs, channels, growth_rate)
            blocks.append(block)
            channels = block.out_channels
            if i < len(num_convs_in_blocks) - 1:          # halve channels, h and w
                blocks.append(transition_block(channels, channels // 2))
                channels //= 2
        self.blocks = nn.Sequential(*blocks)
        self.num_features = channels
        self.head = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (batch, channels)
                                  nn.Linear(channels, num_classes))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(X)))
