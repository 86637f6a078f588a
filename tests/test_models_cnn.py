"""The chapter-4 CNNs of d2lite.models.cnn: shapes, parameter counts, head replacement, train/eval
behaviour, and a reference built from torch's own layers with the same weights."""
import pytest
import torch
from conftest import assert_same_outputs, assert_train_eval, copy_weights
from torch import nn

from d2lite.models import VGG, LeNet, vgg_block


def test_lenet_shapes_and_parameter_count():
    net = LeNet()
    assert net(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert net.features(torch.randn(3, 1, 28, 28)).shape == (3, net.num_features)
    # conv 1->6 (5x5), conv 6->16 (5x5), 400->120->84->10
    expected = ((6 * 25 + 6) + (16 * 6 * 25 + 16)
                + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10))
    assert sum(p.numel() for p in net.parameters()) == expected == 61_706


def test_lenet_options():
    net = LeNet(num_classes=5, in_channels=3, channels=(16, 32), hidden=())
    assert net(torch.randn(2, 3, 28, 28)).shape == (2, 5)
    assert net.num_features == 32 * 25 and len(net.head) == 1


def test_lenet_matches_a_reference_built_from_torch_layers():
    torch.manual_seed(0)
    reference = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    net = LeNet()   # the same convolutions and linear layers, in the same order
    copy_weights(net, dict(zip(net.state_dict(), reference.state_dict().values(), strict=True)))
    assert_same_outputs(net, reference, torch.randn(4, 1, 28, 28))


def test_lenet_head_can_be_replaced_and_features_frozen():
    net = LeNet()
    net.head = nn.Linear(net.num_features, 5)
    net.features.requires_grad_(False)
    before = [p.clone() for p in net.features.parameters()]
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    loss = nn.functional.cross_entropy(net(torch.randn(8, 1, 28, 28)), torch.randint(0, 5, (8,)))
    loss.backward()
    optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(before, net.features.parameters(), strict=True))
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 5)


def test_lenet_batch_norm_differs_between_train_and_eval():
    torch.manual_seed(0)
    net = LeNet(batch_norm=True)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 2
    assert sum(isinstance(m, nn.BatchNorm1d) for m in net.modules()) == 2
    X = torch.randn(8, 1, 28, 28) * 3 + 1
    train_out = net.train()(X)                   # batch statistics; updates running stats
    eval_out = net.eval()(X)                     # running statistics
    assert not torch.allclose(train_out, eval_out)
    assert torch.equal(net.eval()(X), eval_out), "eval mode is deterministic"


def test_vgg_block_shapes_and_layers():
    block = vgg_block(3, 4, 8)
    assert block(torch.randn(2, 4, 17, 17)).shape == (2, 8, 8, 8)
    convs = [m for m in block if isinstance(m, nn.Conv2d)]
    assert len(convs) == 3 and all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert isinstance(block[-1], nn.MaxPool2d)


def test_vgg_shapes_and_features():
    arch = ((1, 16), (1, 32), (2, 64))
    net = VGG(arch, num_classes=10, in_channels=1, image_size=28)
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert net.num_features == 64 * 3 * 3
    assert net.features(torch.randn(2, 1, 28, 28)).shape == (2, 576)
    vgg11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
    features = VGG(vgg11, in_channels=3, image_size=224, hidden=()).features[:-1]
    assert features(torch.zeros(1, 3, 64, 64)).shape == (1, 512, 2, 2)


def test_vgg_dropout_only_in_training():
    torch.manual_seed(0)
    X = torch.randn(4, 1, 28, 28)
    for dropout in (0.5, 0.0):
        net = VGG(((1, 8), (1, 8)), image_size=28, hidden=(32,), dropout=dropout)
        assert_train_eval(net, X, stochastic=dropout > 0)


def test_vgg_rejects_too_many_blocks():
    with pytest.raises(ValueError, match=r"VGG\(\): 5 blocks halve image_size=28 to 0"):
        VGG(((1, 8),) * 5, image_size=28)
