"""The chapter-4 residual and dense networks of d2lite.models.resnet: shapes, channel counts,
train/eval behaviour of their BN layers, and references built from torch's own layers."""
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from d2lite.models import DenseBlock, DenseNet, Residual, ResNet, transition_block


def test_residual_shapes_with_and_without_1x1_conv():
    X = torch.randn(2, 8, 10, 10)
    assert Residual(8, 8)(X).shape == (2, 8, 10, 10)
    assert Residual(8, 16, use_1x1conv=True)(X).shape == (2, 16, 10, 10)
    assert Residual(8, 16, stride=2, use_1x1conv=True)(X).shape == (2, 16, 5, 5)
    assert Residual(8, 8).conv3 is None


def test_residual_refuses_a_shape_change_without_1x1_conv():
    with pytest.raises(ValueError, match="pass use_1x1conv=True"):
        Residual(8, 16)
    with pytest.raises(ValueError, match="stride=2"):
        Residual(8, 8, stride=2)


def test_residual_matches_a_reference_built_from_torch_layers():
    torch.manual_seed(0)
    block = Residual(4, 6, stride=2, use_1x1conv=True).eval()
    with torch.no_grad():
        for bn in (block.bn1, block.bn2):
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
    X = torch.randn(3, 4, 9, 9)
    branch = nn.Sequential(block.conv1, block.bn1, nn.ReLU(), block.conv2, block.bn2)
    torch.testing.assert_close(block(X), F.relu(branch(X) + block.conv3(X)))


def test_residual_with_zero_last_bn_is_the_identity_on_nonnegative_inputs():
    block = Residual(5, 5)
    with torch.no_grad():
        block.bn2.weight.zero_()
    X = torch.rand(2, 5, 7, 7)                       # >= 0, as after a ReLU
    torch.testing.assert_close(block(X), X)


def test_resnet_shapes_parameter_count_and_stages():
    net = ResNet(channels=(16, 32, 64))
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert sum(p.numel() for p in net.parameters()) == 77_658
    assert net.stages(net.stem(torch.randn(2, 1, 28, 28))).shape == (2, 64, 7, 7)
    strided = ResNet(channels=(8, 16), blocks_per_stage=2, num_classes=5, in_channels=3,
                     stem_stride=2)
    assert strided(torch.randn(2, 3, 28, 28)).shape == (2, 5)
    assert len(strided.stages) == 4
    assert strided.stem(torch.randn(2, 3, 28, 28)).shape == (2, 8, 14, 14)
    assert strided.stages(strided.stem(torch.randn(2, 3, 28, 28))).shape == (2, 16, 7, 7)
    plain = ResNet(channels=(8, 16), blocks_per_stage=2, num_classes=5, in_channels=3)
    strided.load_state_dict(plain.state_dict())         # strict: same parameter names


def test_resnet_stem_pool_halves_the_size_after_a_full_resolution_convolution():
    pooled = ResNet(channels=(16, 32, 64), stem_pool=True)
    X = torch.randn(2, 1, 28, 28)
    assert pooled.stem(X).shape == (2, 16, 14, 14) and pooled(X).shape == (2, 10)
    assert pooled.stages(pooled.stem(X)).shape == (2, 64, 4, 4)
    assert isinstance(pooled.stem[-1], torch.nn.MaxPool2d)
    pooled.load_state_dict(ResNet(channels=(16, 32, 64)).state_dict())  # no new parameters


def test_resnet_batch_norm_differs_between_train_and_eval():
    torch.manual_seed(0)
    net = ResNet(channels=(8, 16))
    X = torch.randn(6, 1, 28, 28) * 2 + 1
    train_out = net.train()(X)                       # batch statistics; updates running ones
    eval_out = net.eval()(X)                         # running statistics
    assert not torch.allclose(train_out, eval_out)
    torch.testing.assert_close(net(X[:2]), eval_out[:2])   # eval: independent of the batch


def test_dense_block_channel_growth_and_concatenation():
    torch.manual_seed(0)
    block = DenseBlock(3, in_channels=5, growth_rate=4)
    X = torch.randn(2, 5, 6, 6)
    Y = block(X)
    assert Y.shape == (2, 5 + 3 * 4, 6, 6) and block.out_channels == 17
    torch.testing.assert_close(Y[:, :5], X)          # the input is passed on unchanged
    assert [conv[2].in_channels for conv in block.convs] == [5, 9, 13]


def test_transition_block_halves_channels_and_size():
    t = transition_block(17, 8)
    assert t(torch.randn(2, 17, 6, 6)).shape == (2, 8, 3, 3)
    assert isinstance(t[2], nn.Conv2d) and t[2].kernel_size == (1, 1)


def test_densenet_shapes_channels_and_parameter_count():
    net = DenseNet((2, 2), growth_rate=16, stem_channels=16)
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    # 16 + 2 * 16 = 48, halved to 24 by the transition, 24 + 2 * 16 = 56
    assert net.num_features == 56
    assert net.blocks(net.stem(torch.randn(2, 1, 28, 28))).shape == (2, 56, 14, 14)
    assert sum(p.numel() for p in net.parameters()) == 18_562
    three = DenseNet((1, 2, 3), growth_rate=8, stem_channels=8, num_classes=4, in_channels=3)
    assert three(torch.randn(2, 3, 28, 28)).shape == (2, 4)
    assert three.num_features == (((8 + 8) // 2 + 16) // 2) + 24


def test_densenet_stem_stride_halves_the_size_and_keeps_the_parameters():
    strided = DenseNet((2, 2), growth_rate=16, stem_channels=16, stem_stride=2)
    X = torch.randn(2, 1, 28, 28)
    assert strided.stem(X).shape == (2, 16, 14, 14)
    assert strided.blocks(strided.stem(X)).shape == (2, 56, 7, 7)
    assert strided(X).shape == (2, 10)
    assert sum(p.numel() for p in strided.parameters()) == 18_562
    plain = DenseNet((2, 2), growth_rate=16, stem_channels=16)
    strided.load_state_dict(plain.state_dict())         # strict: same parameter names


def test_densenet_eval_is_deterministic_and_batch_independent():
    torch.manual_seed(0)
    net = DenseNet((1, 1), growth_rate=4, stem_channels=4)
    X = torch.randn(5, 1, 28, 28)
    net.train()(X)
    net.eval()
    torch.testing.assert_close(net(X[:1]), net(X)[:1])
