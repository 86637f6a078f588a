"""Chapter 4's diagrams: the numbers on the mechanism pictures are what PyTorch computes, and
every shape written on a model picture is a shape of the lesson's model in a forward pass."""
import copy

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from d2lite import diagrams, models  # noqa: E402
from d2lite.diagrams import texts  # noqa: E402
from d2lite.diagrams.network import shape_text  # noqa: E402


def walk(x, *parts):
    """The shape text after every layer or block of `parts`, applied in turn (what the lessons
    print when they follow one batch through a network)."""
    seen = {shape_text(x.shape)}
    with torch.no_grad():
        for part in parts:
            for layer in part if isinstance(part, nn.Sequential) else [part]:
                x = layer(x)
                seen.add(shape_text(x.shape))
    return seen


def output_values(fig, n):
    """The n numbers written in the grid titled "output"."""
    on = texts(fig)
    return on[on.index("output") - n:on.index("output")]


def numbers(t):
    return [f"{v:g}".replace("-", "−") for v in t.flatten()]


def shapes_on(fig):
    return {t for t in texts(fig) if t.startswith("(batch")}


def small_vgg():  # vgg_and_blocks: arch ((1, 8), (1, 16), (2, 32)), one hidden layer of 128
    return models.VGG(((1, 8), (1, 16), (2, 32)), num_classes=10, in_channels=1,
                      image_size=28, hidden=(128,), dropout=0.5)


@pytest.mark.parametrize("make, parts", [
    (models.LeNet, ("features", "head")),                                   # cnn_mnist
    (small_vgg, ("features", "head")),                                      # vgg_and_blocks
    (lambda: models.ResNet(channels=(16, 32, 64), stem_pool=True),           # resnet
     ("stem", "stages", "head")),
    (lambda: models.DenseNet((1, 3), growth_rate=16, stem_channels=16, stem_stride=2),
     ("stem", "blocks", "head")),                                           # densenet
])
def test_every_shape_on_a_model_picture_is_a_shape_of_the_forward_pass(make, parts):
    net = make().eval()
    fig = diagrams.cnn_stack(net, (2, 1, 28, 28))
    expected = walk(torch.zeros(2, 1, 28, 28), *(getattr(net, p) for p in parts))
    assert shapes_on(fig) == expected
    assert [t for t in texts(fig) if t in parts] == list(parts)      # each part framed, named
    assert fig.get_size_inches()[0] <= 5


def test_the_lessons_densenet_and_lenet_match_the_pictured_models():
    lesson_densenet = 17_978        # densenet: the lesson's DenseNet() has 17,978 parameters
    net = models.DenseNet((1, 3), growth_rate=16, stem_channels=16, stem_stride=2)
    assert sum(p.numel() for p in net.parameters()) == lesson_densenet
    fig = diagrams.cnn_stack(models.LeNet(), (1, 1, 28, 28))
    assert {"5×5 conv, 6, pad 2 · ReLU", "5×5 conv, 16 · ReLU", "dense, 120 · ReLU",
            "dense, 10"} <= set(texts(fig))


def test_block_pictures_show_the_blocks_shapes():
    block = models.vgg_block(2, 3, 8)                                      # vgg_and_blocks
    assert shapes_on(diagrams.vgg_block(block, (4, 3, 32, 32))) == walk(
        torch.zeros(4, 3, 32, 32), block)
    same, down = models.Residual(16, 16), models.Residual(16, 32, stride=2, use_1x1conv=True)
    fig = diagrams.residual_block([same, down], (4, 16, 14, 14))
    X = torch.zeros(4, 16, 14, 14)
    assert shapes_on(fig) == {shape_text(X.shape), shape_text(down.eval()(X).shape)}
    assert "+" in texts(fig) and texts(fig).count("ReLU") == 4       # ReLU after the addition
    dense = models.DenseBlock(2, 3, growth_rate=10)                        # densenet
    fig = diagrams.dense_block(dense, (4, 3, 8, 8))
    assert shape_text(dense.eval()(torch.zeros(4, 3, 8, 8)).shape) in shapes_on(fig)
    assert shapes_on(fig) == {"(batch, 3, 8, 8)", "(batch, 13, 8, 8)", "(batch, 23, 8, 8)"}


def test_batch_norm_and_fine_tuning_pictures_come_from_the_models():
    net = models.LeNet(batch_norm=True)                                    # batch_norm
    fig = diagrams.batch_norm_position(net, (1, 1, 28, 28))
    assert shapes_on(fig) == {"(batch, 1, 28, 28)", "(batch, 6, 28, 28)", "(batch, 400)",
                              "(batch, 120)"}
    source = models.LeNet(num_classes=5)                                   # transfer_learning
    target = copy.deepcopy(source)
    target.head = nn.Linear(target.num_features, 5)
    target.features.requires_grad_(False)
    fig = diagrams.fine_tuning(source, target, (1, 1, 28, 28))
    assert shapes_on(fig) == {"(batch, 1, 28, 28)", "(batch, 400)", "(batch, 5)"}
    assert "frozen: not trained" in texts(fig)
    target.features.requires_grad_(True)                   # fine-tuned: nothing is hatched
    assert "frozen: not trained" not in texts(diagrams.fine_tuning(source, target, (1, 1, 28, 28)))


def test_drawing_a_model_keeps_its_mode_and_draws_no_random_numbers():
    net = models.ResNet(channels=(16, 32, 64), stem_pool=True).train()
    state = torch.get_rng_state()
    diagrams.cnn_stack(net, (1, 1, 28, 28))
    assert net.training and torch.equal(state, torch.get_rng_state())
    assert all(m.running_mean.abs().sum() == 0 for m in net.modules()
               if isinstance(m, nn.BatchNorm2d)), "eval mode: running statistics untouched"


def test_the_numbers_on_the_mechanism_pictures_are_what_torch_computes():
    X, K = torch.arange(9.0).reshape(3, 3), torch.tensor([[1.0, 0.0], [0.0, -1.0]])
    on = texts(diagrams.cross_correlation(X, K))                           # convolutions
    assert on.count("−4") == 4 and "0·1 + 1·0 + 3·0 + 4·(−1) = −4" in on
    Y = F.conv2d(X[None, None], K[None, None], padding=1, stride=2)[0, 0]  # padding_stride
    fig = diagrams.padding_stride(X, K, padding=1, stride=2)
    assert output_values(fig, Y.numel()) == numbers(Y)
    assert texts(fig)[-1].endswith(f"= {Y.shape[0]}")
    X2 = torch.tensor([[[0.0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1.0, 2, 0], [0, 1, 2], [2, 0, 1]]])
    K2 = torch.tensor([[[1.0, 0], [0, -1]], [[0.0, 1], [1, 0]]])
    out = F.conv2d(X2[None], K2[None])[0, 0]
    assert output_values(diagrams.multi_channel(X2, K2), out.numel()) == numbers(out)
    P = torch.tensor([[1.0, 3, 2, 0], [4, 2, 1, 5], [0, 1, 3, 2], [2, 6, 1, 0]])
    pooled = F.max_pool2d(P[None, None], 2)[0, 0]
    assert output_values(diagrams.max_pooling(P), pooled.numel()) == numbers(pooled)
    assert "over 5 · 7 · 7 = 245 numbers" in texts(diagrams.batch_norm_axes((5, 10),
                                                                            (5, 3, 7, 7)))
    two, one = (nn.Sequential(nn.Conv2d(1, 1, 3, bias=False), nn.Conv2d(1, 1, 3, bias=False)),
                nn.Conv2d(1, 1, 5, bias=False))
    weights = [sum(p.numel() for p in n.parameters()) for n in (two, one)]
    assert [t for t in texts(diagrams.receptive_field()) if "weights" in t] == [
        f"two 3×3 layers:\n9 + 9 = {weights[0]} weights", f"one 5×5 layer:\n{weights[1]} weights"]


def test_every_picture_fits_the_page_and_bad_arguments_are_explained():
    for fig in (diagrams.cross_correlation(), diagrams.padding_stride(),
                diagrams.multi_channel(), diagrams.conv_1x1(), diagrams.max_pooling(),
                diagrams.receptive_field(), diagrams.batch_norm_axes()):
        assert fig.get_size_inches()[0] <= 5
    with pytest.raises(ValueError, match=r"cross_correlation\(\): got window=\(5, 0\)"):
        diagrams.cross_correlation(window=(5, 0))
    with pytest.raises(ValueError, match=r"multi_channel\(\): got 2 input channels and 1"):
        diagrams.multi_channel(K=[[[1.0]]])
    with pytest.raises(ValueError, match=r"padding_stride\(\): got values of shape \(3,\)"):
        diagrams.padding_stride([1, 2, 3])
    with pytest.raises(ValueError, match=r"vgg_block\(\): got layers \['Conv2d'\]"):
        diagrams.vgg_block(nn.Sequential(nn.Conv2d(1, 1, 3)), (1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"batch_norm_position\(\): got a LeNet with no layer"):
        diagrams.batch_norm_position(models.LeNet(), (1, 1, 28, 28))
