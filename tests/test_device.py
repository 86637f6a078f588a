"""d2lite.device: the device order CUDA → MPS → CPU (faked availability), and repeatable seeds."""
import pytest
import torch

import d2lite
from d2lite import device


@pytest.fixture
def fake(monkeypatch):
    """Pretend the machine has `cuda` CUDA devices and MPS or not."""
    def set_devices(cuda: int = 0, mps: bool = False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(device, "_mps_available", lambda: mps)
    return set_devices


def test_cuda_comes_first(fake):
    fake(cuda=2, mps=True)
    assert d2lite.try_gpu() == torch.device("cuda:0")
    assert d2lite.try_gpu(1) == torch.device("cuda:1")
    assert d2lite.try_gpu(2) == torch.device("cpu")  # no third GPU: fall back to the CPU
    assert d2lite.num_gpus() == 2


def test_mps_when_there_is_no_cuda(fake):
    fake(cuda=0, mps=True)
    assert d2lite.try_gpu() == torch.device("mps")
    assert d2lite.try_gpu(1) == torch.device("cpu")
    assert d2lite.num_gpus() == 1


def test_cpu_when_there_is_no_accelerator(fake):
    fake(cuda=0, mps=False)
    assert d2lite.try_gpu() == torch.device("cpu")
    assert d2lite.num_gpus() == 0


def test_bad_device_index_says_what_to_pass():
    with pytest.raises(ValueError, match=r"try_gpu\(\): got i=-1; expected a device index >= 0"):
        d2lite.try_gpu(-1)


def test_seed_everything_repeats_torch_numpy_and_python():
    import random

    import numpy as np

    d2lite.seed_everything(7)
    first = (torch.rand(3), np.random.rand(3), random.random())
    assert d2lite.seed_everything(7) == 7
    second = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0])
    assert np.array_equal(first[1], second[1]) and first[2] == second[2]


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "0", True])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match=r"seed_everything\(\): got seed=.*; expected an int"):
        d2lite.seed_everything(seed)
