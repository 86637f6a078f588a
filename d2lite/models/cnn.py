"""Convolutional networks of chapter 4: a LeNet-style CNN, VGG blocks and a small VGG.

Each model is `features` (convolutions and pooling) followed by `head` (the dense classifier), so a
later lesson can keep the features and swap the head (transfer learning). No data handling here.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["LeNet", "VGG", "vgg_block"]


def _conv_bn_relu(conv: nn.Conv2d, batch_norm: bool) -> list[nn.Module]:
    """[conv, ReLU], or [conv, BatchNorm2d, ReLU] with `batch_norm`."""
    norm = [nn.BatchNorm2d(conv.out_channels)] if batch_norm else []
    return [conv, *norm, nn.ReLU()]


class LeNet(nn.Module):
    """A LeNet-style CNN for 28 × 28 images: two 5 × 5 convolutions, each with ReLU and 2 × 2
    max-pooling, then a dense head (LeCun et al., 1998, with ReLU and max-pooling).

    The network is two sub-modules, called in order: `features` (the convolutional part, ending in
    `nn.Flatten`) and `head` (the dense layers, returning raw scores). To reuse the features for
    another task, replace the head: `net.head = nn.Linear(net.num_features, 5)`; to freeze them,
    set `requires_grad_(False)` on `net.features`.

    Args:
        num_classes: outputs of the last layer (raw scores; use `nn.CrossEntropyLoss`).
        in_channels: channels of the input images (1 for grey).
        channels: output channels of the two convolutions; the first is padded by 2 so it keeps
            28 × 28, the second is not, so the feature maps end at 5 × 5.
        hidden: widths of the dense hidden layers (each with ReLU) before the output layer; `()`
            gives a single linear layer on the features.
        batch_norm: put `nn.BatchNorm2d` after each convolution and `nn.BatchNorm1d` after each
            hidden layer, before the ReLU.

    Attributes:
        num_features: length of the flattened feature vector, `channels[1] * 5 * 5`.

    Shape:
        X: `(batch, in_channels, 28, 28)` -> `(batch, num_classes)`;
        `features(X)`: `(batch, num_features)`.

    Example:
        >>> net = LeNet()
        >>> net(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
        >>> sum(p.numel() for p in net.parameters()), net.num_features
        (61706, 400)
        >>> net.head = nn.Linear(net.num_features, 5)   # a new head for a 5-class task
        >>> net(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 5])
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1,
                 channels: tuple[int, int] = (6, 16), hidden: Sequence[int] = (120, 84),
                 batch_norm: bool = False):
        super().__init__()
        c1, c2 = channels
        self.num_features = c2 * 5 * 5
        self.features = nn.Sequential(
            *_conv_bn_relu(nn.Conv2d(in_channels, c1, kernel_size=5, padding=2), batch_norm),
            nn.MaxPool2d(2),                                    # (batch, c1, 14, 14)
            *_conv_bn_relu(nn.Conv2d(c1, c2, kernel_size=5), batch_norm),
            nn.MaxPool2d(2),                                    # (batch, c2, 5, 5)
            nn.Flatten())                                       # (batch, c2 * 25)
        layers, width = [], self.num_features
        for h in hidden:
            layers += [nn.Linear(width, h), *([nn.BatchNorm1d(h)] if batch_norm else []),
                       nn.ReLU()]
            width = h
        self.head = nn.Sequential(*layers, nn.Linear(width, num_classes))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(X))


def vgg_block(num_convs: int, in_channels: int, out_channels: int) -> nn.Sequential:
    """A VGG block: `num_convs` 3 × 3 convolutions (padding 1, each followed by ReLU), then 2 × 2
    max-pooling, which halves the height and width (Simonyan and Zisserman, 2015).

    Shape:
        X: `(batch, in_channels, h, w)` -> `(batch, out_channels, h // 2, w // 2)`.

    Example:
        >>> block = vgg_block(2, 3, 64)
        >>> block(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 64, 16, 16])
    """
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2))
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """A VGG network: a stack of `vgg_block`s (`features`), then a dense head (`head`).

    Args:
        arch: one `(num_convs, out_channels)` pair per block, e.g. VGG-11's
            `((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))`.
        num_classes: outputs of the last layer (raw scores).
        in_channels: channels of the input images.
        image_size: height (= width) of the inputs; each block halves it (rounding down).
        hidden: widths of the dense hidden layers, each with ReLU and dropout (VGG's own is
            `(4096, 4096)`).
        dropout: dropout probability after each hidden layer.

    Attributes:
        num_features: length of the flattened feature vector,
            `arch[-1][1] * (image_size // 2 ** len(arch)) ** 2`.

    Shape:
        X: `(batch, in_channels, image_size, image_size)` -> `(batch, num_classes)`;
        `features(X)`: `(batch, num_features)`.

    Example:
        >>> net = VGG(((1, 16), (1, 32), (2, 64)), num_classes=10, in_channels=1, image_size=28)
        >>> net(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
        >>> net.num_features     # 64 channels of 3 x 3 after three halvings of 28
        576
    """

    def __init__(self, arch: Sequence[tuple[int, int]], num_classes: int = 10,
                 in_channels: int = 1, image_size: int = 28, hidden: Sequence[int] = (128,),
                 dropout: float = 0.5):
        super().__init__()
        blocks, channels, size = [], in_channels, image_size
        for num_convs, out_channels in arch:
            blocks.append(vgg_block(num_convs, channels, out_channels))
            channels, size = out_channels, size // 2
        if size < 1:
            raise ValueError(f"VGG(): {len(arch)} blocks halve image_size={image_size} to 0; "
                             "use fewer blocks or larger images")
        self.num_features = channels * size * size
        self.features = nn.Sequential(*blocks, nn.Flatten())    # (batch, num_features)
        layers, width = [], self.num_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        self.head = nn.Sequential(*layers, nn.Linear(width, num_classes))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(X))
