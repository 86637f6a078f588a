"""Tests for d2lite.transforms: what each augmentation does to a batch, checked by behaviour."""
import math

import pytest
import torch

from d2lite import transforms as T


def images(batch=6, channels=1, height=12, width=12, seed=0):
    return torch.rand(batch, channels, height, width, generator=torch.Generator().manual_seed(seed))


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


# ---- flips --------------------------------------------------------------------------------------

def test_a_sure_flip_mirrors_and_is_its_own_inverse():
    X, flip = images(channels=3), T.RandomHorizontalFlip
    once = flip(p=1.0)(X)
    assert torch.equal(once, X.flip(3))
    assert torch.equal(flip(p=1.0)(once), X)
    assert torch.equal(flip(p=0.0)(X), X)


def test_a_coin_flip_mirrors_some_images_and_leaves_the_others():
    X = images(batch=200)
    Y = T.RandomHorizontalFlip(p=0.5)(X, seeded())
    flipped = (Y == X.flip(3)).flatten(1).all(1)       # (batch,)
    kept = (Y == X).flatten(1).all(1)
    assert bool((flipped ^ kept).all()), "every image is either mirrored or untouched"
    assert 70 < int(flipped.sum()) < 130, f"{int(flipped.sum())} of 200 flipped at p = 0.5"


# ---- crops --------------------------------------------------------------------------------------

def test_crop_of_a_padded_image_keeps_the_shape_and_shifts_by_at_most_the_padding():
    X = torch.zeros(50, 2, 16, 20)
    X[:, :, 6:10, 8:12] = torch.rand(50, 2, 4, 4) + 0.5   # content 6 pixels from every edge
    Y = T.RandomCrop(padding=3)(X, seeded())
    assert Y.shape == X.shape
    torch.testing.assert_close(Y.sum(dim=(1, 2, 3)), X.sum(dim=(1, 2, 3)))  # nothing cut off
    shifts = set()
    for x, y in zip(X, Y, strict=True):
        matches = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
                   if torch.equal(torch.roll(x, (dy, dx), dims=(1, 2)), y)]
        assert len(matches) == 1, "each output is the input shifted by at most 3 pixels"
        shifts.add(matches[0])
    assert len(shifts) > 10, f"only {len(shifts)} different shifts in 50 images"


def test_crop_without_padding_is_the_identity():
    X = images()
    assert torch.equal(T.RandomCrop(padding=0)(X, seeded()), X)


# ---- rotations ----------------------------------------------------------------------------------

def test_rotation_by_zero_is_the_identity():
    X = images(channels=3, height=9, width=13)
    torch.testing.assert_close(T.rotate(X, 0.0), X, atol=1e-6, rtol=0)


@pytest.mark.parametrize("k", [1, 2, -1])
def test_rotation_by_quarter_turns_matches_rot90_at_pixel_centres(k):
    X = images(channels=2, height=10, width=10)
    torch.testing.assert_close(T.rotate(X, 90.0 * k), torch.rot90(X, k, dims=(2, 3)),
                               atol=1e-5, rtol=0)


def test_rotation_takes_one_angle_per_image():
    X = images(batch=2)
    Y = T.rotate(X, torch.tensor([0.0, 90.0]))
    torch.testing.assert_close(Y[0], X[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(Y[1], torch.rot90(X[1], 1, dims=(1, 2)), atol=1e-5, rtol=0)


def test_random_rotation_stays_within_its_range():
    X = torch.zeros(40, 1, 21, 21)
    X[:, :, 10, 10:] = 1                                  # a ray from the centre to the right
    Y = T.RandomRotation(30)(X, seeded())[:, 0]           # (40, 21, 21)
    up, right = torch.meshgrid(10 - torch.arange(21.), torch.arange(21.) - 10, indexing="ij")
    far = (up ** 2 + right ** 2) > 16                     # angles are coarse near the centre
    weights = Y * far                                     # (40, 21, 21)
    angles = torch.atan2((weights * up).sum((1, 2)), (weights * right).sum((1, 2)))
    angles = angles * 180 / math.pi                       # counter-clockwise, one per image
    assert angles.abs().max() <= 31, f"angles up to {angles.abs().max():.1f} degrees"
    assert angles.min() < -15 and angles.max() > 15, "the angles should use the whole range"


# ---- colour jitter ------------------------------------------------------------------------------

@pytest.mark.parametrize("channels, kwargs", [
    (1, dict(brightness=0.8, contrast=0.8)),
    (3, dict(brightness=0.8, contrast=0.8, saturation=0.8, hue=0.5)),
])
def test_jitter_keeps_values_in_the_unit_interval_and_changes_them(channels, kwargs):
    X = images(batch=32, channels=channels)
    Y = T.ColorJitter(**kwargs)(X, seeded())
    assert Y.shape == X.shape and Y.min() >= 0 and Y.max() <= 1
    assert (Y - X).abs().mean() > 0.02


def test_jitter_of_zero_strength_is_the_identity():
    X = images(channels=3)
    torch.testing.assert_close(T.ColorJitter()(X, seeded()), X, atol=1e-6, rtol=0)


def test_brightness_multiplies_each_image_by_one_factor():
    """Away from the clip bounds, brightness multiplies every pixel of an image by one factor in
    [1 - s, 1 + s], drawn anew for each image: output / input is one constant per image."""
    X = 0.1 + 0.5 * images(batch=8, channels=3)           # in [0.1, 0.6]: x 1.5 stays below 1
    ratio = (T.ColorJitter(brightness=0.5)(X, seeded()) / X).flatten(1)   # (batch, pixels)
    factor = ratio.mean(1, keepdim=True)                   # (batch, 1)
    torch.testing.assert_close(ratio, factor.expand_as(ratio), atol=1e-5, rtol=0)
    assert ((factor >= 0.5) & (factor <= 1.5)).all() and factor.unique().numel() == 8


def test_contrast_scales_about_each_images_grey_mean_and_keeps_it():
    """Away from the clip bounds, contrast moves every pixel of an image away from (or towards)
    the image's grey mean m by one factor f in [1 - s, 1 + s], one draw per image:
    output - m = f (input - m), so each image keeps its grey mean (to 1e-5)."""
    X = 0.35 + 0.3 * images(batch=8, channels=3)          # within 0.15 of m: x 1.5 stays in [0, 1]
    Y = T.ColorJitter(contrast=0.5)(X, seeded())
    luma = torch.tensor([0.299, 0.587, 0.114])[:, None, None]   # grey = 0.299 R + 0.587 G + 0.114 B
    grey_mean = (X * luma).sum(1).mean(dim=(1, 2))[:, None, None, None]   # (batch, 1, 1, 1)
    torch.testing.assert_close((Y * luma).sum(1).mean(dim=(1, 2)), grey_mean.flatten(),
                               atol=1e-5, rtol=0)
    dims = (1, 2, 3)                                       # f by least squares, per image
    factor = (((Y - grey_mean) * (X - grey_mean)).sum(dims, keepdim=True)
              / ((X - grey_mean) ** 2).sum(dims, keepdim=True))
    torch.testing.assert_close(Y - grey_mean, factor * (X - grey_mean), atol=1e-5, rtol=0)
    assert ((factor >= 0.5) & (factor <= 1.5)).all() and factor.unique().numel() == 8


def test_hue_turns_colours_but_keeps_greys():
    grey = torch.full((4, 3, 5, 5), 0.4)
    torch.testing.assert_close(T.ColorJitter(hue=0.5)(grey, seeded()), grey)
    red = torch.zeros(1, 3, 1, 1)
    red[:, 0] = 1
    third = T._rotate_hue(red, torch.tensor([2 * math.pi / 3]))   # a third of the circle
    torch.testing.assert_close(third.flatten(), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6, rtol=0)


def test_zero_saturation_strength_one_can_turn_colour_to_grey():
    X = images(batch=64, channels=3)
    Y = T.ColorJitter(saturation=1.0)(X, seeded())
    spread = (Y.max(dim=1).values - Y.min(dim=1).values).flatten(1).mean(1)   # (batch,)
    assert spread.min() < 0.1 * spread.max(), "a factor near 0 should leave nearly grey"


# ---- generators and chaining --------------------------------------------------------------------

def augment():
    return T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(2),
                      T.RandomRotation(20), T.ColorJitter(brightness=0.3, contrast=0.3,
                                                          saturation=0.3, hue=0.1)])


def test_a_seeded_generator_repeats_and_another_seed_differs():
    X = images(batch=8, channels=3)
    assert torch.equal(augment()(X, seeded(3)), augment()(X, seeded(3)))
    assert not torch.equal(augment()(X, seeded(3)), augment()(X, seeded(4)))


def test_compose_applies_in_order_with_one_generator():
    X = images()
    flip, crop = T.RandomHorizontalFlip(0.5), T.RandomCrop(1)
    generator = seeded(5)
    by_hand = crop(flip(X, generator), generator)
    assert torch.equal(T.Compose([flip, crop])(X, seeded(5)), by_hand)
    assert torch.equal(T.Compose([])(X), X)


# ---- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: T.RandomHorizontalFlip(p=1.5), r"RandomHorizontalFlip\(\): got p=1.5; expected"),
    (lambda: T.RandomCrop(padding=-1), r"RandomCrop\(\): got padding=-1; expected an int >= 0"),
    (lambda: T.RandomCrop(padding=2.5), r"RandomCrop\(\): got padding=2.5"),
    (lambda: T.RandomRotation(-10), r"RandomRotation\(\): got degrees=-10; expected"),
    (lambda: T.ColorJitter(hue=0.7), r"ColorJitter\(\): got hue=0.7; expected a number in"),
    (lambda: T.Compose([T.RandomCrop(1), "flip"]), r"Compose\(\): got \['flip'\]"),
])
def test_bad_arguments_say_what_was_expected(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_bad_inputs_say_what_was_expected():
    with pytest.raises(ValueError, match=r"RandomCrop\(\): got shape \(12, 12\), torch.float32; "
                                         r"expected a float tensor \(batch, C, H, W\)"):
        T.RandomCrop(2)(torch.rand(12, 12))
    with pytest.raises(ValueError, match=r"rotate\(\): got shape \(1, 1, 4, 4\), torch.uint8"):
        T.rotate(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), 10.0)
    with pytest.raises(ValueError, match="saturation and hue need RGB images"):
        T.ColorJitter(saturation=0.2)(torch.rand(2, 1, 8, 8))
