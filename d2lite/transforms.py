"""Image augmentation as tensor ops on batches `(batch, C, H, W)` in [0, 1]: random flips, padded
crops, rotations and colour jitter, one draw per image from an optional `torch.Generator`."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.nn import functional as F


def _check_images(who: str, X) -> None:
    if not isinstance(X, torch.Tensor) or X.dim() != 4 or not X.is_floating_point():
        got = (f"shape {tuple(X.shape)}, {X.dtype}" if isinstance(X, torch.Tensor)
               else type(X).__name__)
        raise ValueError(f"{who}(): got {got}; expected a float tensor (batch, C, H, W) in [0, 1], "
                         "e.g. images[:, None] for a stack of greyscale (batch, H, W)")


def _uniform(n: int, low: float, high: float, generator, device) -> torch.Tensor:
    """n numbers uniform in [low, high), drawn on the CPU (so runs repeat on every device).
    The copy to a GPU is non-blocking: the CPU goes on queueing work instead of waiting."""
    return (low + (high - low) * torch.rand(n, generator=generator)).to(device, non_blocking=True)


def _check_range(who: str, name: str, value, low: float, high: float) -> None:
    if not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{who}(): got {name}={value!r}; expected a number in [{low}, {high}]")


class RandomHorizontalFlip:
    """Mirror each image left-right with probability `p`.

    Shape: X: (batch, C, H, W) -> (batch, C, H, W).

    Example:
        >>> X = torch.arange(4.).reshape(1, 1, 2, 2)
        >>> RandomHorizontalFlip(p=1.0)(X)[0, 0].tolist()
        [[1.0, 0.0], [3.0, 2.0]]
    """

    def __init__(self, p: float = 0.5):
        _check_range(type(self).__name__, "p", p, 0, 1)
        self.p = p

    def __call__(self, X: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check_images(type(self).__name__, X)
        flip = _uniform(len(X), 0, 1, generator, X.device) < self.p   # (batch,)
        return torch.where(flip[:, None, None, None], X.flip(3), X)


class RandomCrop:
    """Shift each image by up to `padding` pixels: pad with zeros, cut out an (H, W) window.

    Shape: X: (batch, C, H, W) -> (batch, C, H, W).

    Example:
        >>> X = torch.zeros(8, 1, 28, 28); X[:, :, 10:18, 10:18] = 1
        >>> Y = RandomCrop(padding=4)(X, torch.Generator().manual_seed(0))
        >>> tuple(Y.shape), Y.sum().item() == X.sum().item()   # shifted, nothing cut off
        ((8, 1, 28, 28), True)
    """

    def __init__(self, padding: int = 4):
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(f"RandomCrop(): got padding={padding!r}; expected an int >= 0")
        self.padding = padding

    def __call__(self, X: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check_images("RandomCrop", X)
        (batch, _, H, W), p = X.shape, self.padding
        padded = F.pad(X, (p, p, p, p)).permute(0, 2, 3, 1)            # (batch, H+2p, W+2p, C)
        shifts = torch.randint(0, 2 * p + 1, (2, batch, 1), generator=generator)  # on the CPU
        top, left = shifts.to(X.device, non_blocking=True)             # (batch, 1) each
        rows = (top + torch.arange(H, device=X.device))[:, :, None]    # (batch, H, 1)
        cols = (left + torch.arange(W, device=X.device))[:, None, :]   # (batch, 1, W)
        index = torch.arange(batch, device=X.device)[:, None, None]
        return padded[index, rows, cols].permute(0, 3, 1, 2)           # (batch, C, H, W)


def rotate(X: torch.Tensor, degrees: float | torch.Tensor) -> torch.Tensor:
    """Rotate every image counter-clockwise about its centre by `degrees` (one number, or one
    per image), interpolating bilinearly and filling the corners with 0.

    Shape: X: (batch, C, H, W), degrees: () or (batch,) -> (batch, C, H, W).

    Example:
        >>> X = torch.rand(2, 1, 5, 5)
        >>> torch.allclose(rotate(X, 90.0), torch.rot90(X, 1, dims=(2, 3)), atol=1e-5)
        True
    """
    _check_images("rotate", X)
    angle = torch.as_tensor(degrees, dtype=X.dtype).to(X.device) * (math.pi / 180)
    angle = angle.expand(len(X))                                        # (batch,)
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    # affine_grid maps each output pixel (x right, y down, both in [-1, 1]) to the place it
    # reads in the input; reading there, turned the other way, turns the picture by `angle`.
    H, W = X.shape[-2:]
    theta = torch.stack([torch.stack([cos, -sin * H / W, zero], -1),
                         torch.stack([sin * W / H, cos, zero], -1)], 1)  # (batch, 2, 3)
    grid = F.affine_grid(theta, list(X.shape), align_corners=False)   # (batch, H, W, 2)
    return F.grid_sample(X, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class RandomRotation:
    """Rotate each image by an angle drawn uniformly from [-degrees, degrees] (see `rotate`).

    Shape: X: (batch, C, H, W) -> (batch, C, H, W).

    Example:
        >>> Y = RandomRotation(15)(torch.rand(4, 3, 28, 28), torch.Generator().manual_seed(0))
        >>> tuple(Y.shape)
        (4, 3, 28, 28)
    """

    def __init__(self, degrees: float):
        _check_range("RandomRotation", "degrees", degrees, 0, 180)
        self.degrees = degrees

    def __call__(self, X: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check_images("RandomRotation", X)
        return rotate(X, _uniform(len(X), -self.degrees, self.degrees, generator, X.device))


class ColorJitter:
    """Scale brightness, contrast (about the mean grey) and saturation (about each pixel's grey)
    by factors drawn from [1 - s, 1 + s], and turn the hue about the grey axis by up to `hue` of a
    full circle, one draw per image; clipped to [0, 1]. Greyscale (C = 1): brightness, contrast.

    Shape: X: (batch, C, H, W) with C = 1 or 3 -> (batch, C, H, W).

    Example:
        >>> jitter = ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
        >>> Y = jitter(torch.rand(4, 3, 8, 8), torch.Generator().manual_seed(0))
        >>> tuple(Y.shape), 0 <= Y.min().item() and Y.max().item() <= 1
        ((4, 3, 8, 8), True)
    """

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0,
                 saturation: float = 0.0, hue: float = 0.0):
        for name, value, high in (("brightness", brightness, 1), ("contrast", contrast, 1),
                                  ("saturation", saturation, 1), ("hue", hue, 0.5)):
            _check_range("ColorJitter", name, value, 0, high)
        self.brightness, self.contrast = brightness, contrast
        self.saturation, self.hue = saturation, hue

    def __call__(self, X: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check_images("ColorJitter", X)
        channels = X.shape[1]
        if channels not in (1, 3) or (channels == 1 and (self.saturation or self.hue)):
            raise ValueError(f"ColorJitter(): got images with {channels} channel(s) and saturation="
                             f"{self.saturation}, hue={self.hue}; saturation and hue need RGB "
                             "images (C = 3), greyscale (C = 1) takes brightness and contrast")

        def factors(s):                                                 # (batch, 1, 1, 1)
            return _uniform(len(X), 1 - s, 1 + s, generator, X.device)[:, None, None, None]

        def grey(Y):                                                    # (batch, 1, H, W)
            weights = torch.tensor([0.299, 0.587, 0.114], dtype=Y.dtype, device=Y.device)
            return Y if channels == 1 else (Y * weights[:, None, None]).sum(1, keepdim=True)

        X = (X * factors(self.brightness)).clamp(0, 1)
        mean = grey(X).mean(dim=(1, 2, 3), keepdim=True)                # (batch, 1, 1, 1)
        X = (mean + factors(self.contrast) * (X - mean)).clamp(0, 1)
        if channels == 3:
            X = (grey(X) + factors(self.saturation) * (X - grey(X))).clamp(0, 1)
            turn = _uniform(len(X), -self.hue, self.hue, generator, X.device) * 2 * math.pi
            X = _rotate_hue(X, turn).clamp(0, 1)
        return X


def _rotate_hue(X: torch.Tensor, turn: torch.Tensor) -> torch.Tensor:
    """Rotate RGB colours about the grey axis (1, 1, 1)/sqrt(3) by `turn` radians per image."""
    cos, sin = turn.cos()[:, None, None], turn.sin()[:, None, None]    # (batch, 1, 1)
    ones = torch.full((3, 3), 1 / 3, dtype=X.dtype, device=X.device)  # projection onto grey
    cross = torch.tensor([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], dtype=X.dtype,
                         device=X.device) / math.sqrt(3)               # axis x colour
    eye = torch.eye(3, dtype=X.dtype, device=X.device)
    R = ones + cos * (eye - ones) + sin * cross                        # (batch, 3, 3) Rodrigues
    return torch.einsum("bij,bjhw->bihw", R, X)


class Compose:
    """Apply transforms one after the other, passing each the same generator.

    Example:
        >>> augment = Compose([RandomHorizontalFlip(), RandomCrop(padding=2)])
        >>> X = torch.rand(4, 1, 28, 28)
        >>> torch.equal(augment(X, torch.Generator().manual_seed(1)),
        ...             augment(X, torch.Generator().manual_seed(1)))
        True
    """

    def __init__(self, transforms: Sequence):
        bad = [t for t in transforms if not callable(t)]
        if bad:
            raise TypeError(f"Compose(): got {bad!r}, which cannot be called; expected transforms"
                            " such as RandomHorizontalFlip()")
        self.transforms = list(transforms)

    def __call__(self, X: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for transform in self.transforms:
            X = transform(X, generator)
        return X
