"""Checkpoints: atomic writes, weights_only loading, and resuming bit for bit after a SIGKILL."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import d2lite
from d2lite.checkpoint import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def small_setup(seed=0):
    torch.manual_seed(seed)
    X, y = torch.randn(96, 6), torch.randint(0, 3, (96,))
    data = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    return net, optimizer, data


def test_save_and_load_round_trip(tmp_path):
    net, optimizer, data = small_setup()
    d2lite.fit(net, data, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, device="cpu",
               plot=False, verbose=False)
    path = save_checkpoint(tmp_path / "sub" / "ckpt.pt", net, optimizer, epoch=3, note="hi")
    assert path == tmp_path / "sub" / "ckpt.pt" and path.is_file()

    net2, optimizer2, _ = small_setup(seed=1)
    state = load_checkpoint(path, net2, optimizer2)
    assert state["epoch"] == 3 and state["note"] == "hi"
    for a, b in zip(net.state_dict().values(), net2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert optimizer2.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]


class NotAllowed:
    """An arbitrary class: weights_only loading must refuse to unpickle it."""


def test_load_uses_weights_only(tmp_path):
    net, _, _ = small_setup()
    path = save_checkpoint(tmp_path / "evil.pt", net, payload=NotAllowed())
    with pytest.raises(Exception, match="[Ww]eights only load failed"):
        load_checkpoint(path, net)


def test_write_is_atomic(tmp_path, monkeypatch):
    net, optimizer, _ = small_setup()
    path = save_checkpoint(tmp_path / "ckpt.pt", net, optimizer, epoch=1)
    before = path.read_bytes()
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    save_checkpoint(path, net, optimizer, epoch=2)
    assert len(synced) >= 1, "the checkpoint file was not fsync'ed"
    assert load_checkpoint(path, net)["epoch"] == 2

    def crash(obj, f):  # write half a file, then die as a full disk would
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    good = path.read_bytes()
    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, net, optimizer, epoch=3)
    assert path.read_bytes() == good != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"], "a temporary file was left"


def test_rng_states_survive_a_weights_only_checkpoint(tmp_path):
    import random

    import numpy as np

    from d2lite.device import rng_state, set_rng_state

    d2lite.seed_everything(3)
    random.gauss(0, 1)  # leaves a cached Gaussian in Python's state
    net, _, _ = small_setup()
    path = save_checkpoint(tmp_path / "rng.pt", net, rng=rng_state())
    expected = (torch.rand(3), np.random.rand(3), random.random(), random.gauss(0, 1))
    d2lite.seed_everything(99)
    set_rng_state(load_checkpoint(path, net)["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random(), random.gauss(0, 1))
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[2:] == expected[2:]


def test_load_errors(tmp_path):
    net, optimizer, _ = small_setup()
    with pytest.raises(FileNotFoundError, match=r"load_checkpoint\(\): no checkpoint at .*nope"):
        load_checkpoint(tmp_path / "nope.pt", net)
    path = save_checkpoint(tmp_path / "model_only.pt", net)
    with pytest.raises(ValueError, match="holds no optimizer state; leave out optimizer"):
        load_checkpoint(path, net, optimizer)


class TwoLayer(nn.Module):
    """A model with constructor arguments, as d2lite.models classes have."""

    def __init__(self, num_inputs, num_hiddens, num_outputs=3):
        super().__init__()
        self.hidden, self.out = nn.Linear(num_inputs, num_hiddens), nn.Linear(num_hiddens,
                                                                              num_outputs)

    def forward(self, X):
        return self.out(torch.relu(self.hidden(X)))


def test_model_args_let_load_model_rebuild_the_model(tmp_path):
    net = TwoLayer(6, 8)
    args = {"num_inputs": 6, "num_hiddens": 8, "num_outputs": 3}
    path = save_checkpoint(tmp_path / "two.pt", net, model_args=args)
    rebuilt = d2lite.load_model(path, TwoLayer)
    assert isinstance(rebuilt, TwoLayer) and rebuilt is not net
    X = torch.randn(4, 6)
    assert torch.equal(rebuilt(X), net(X))
    assert load_checkpoint(path, TwoLayer(6, 8))["model_args"] == args
    with pytest.raises(TypeError, match=r"model_args=.* must be a dict of numbers, strings"):
        save_checkpoint(tmp_path / "bad.pt", net, model_args={"act": nn.ReLU()})
    plain = save_checkpoint(tmp_path / "plain.pt", net)
    with pytest.raises(ValueError, match=r"load_model\(\): .*plain.pt was saved without "
                                         r"model_args; build the model yourself"):
        d2lite.load_model(plain, TwoLayer)


def test_another_architecture_names_the_first_mismatched_tensor(tmp_path):
    path = save_checkpoint(tmp_path / "two.pt", TwoLayer(6, 8), model_args={
        "num_inputs": 6, "num_hiddens": 8})
    with pytest.raises(ValueError) as info:
        load_checkpoint(path, TwoLayer(6, 16))
    assert re.search(r"load_checkpoint\(\): .*two.pt holds another architecture than this "
                     r"TwoLayer: the first tensor that differs is 'hidden.weight', \(8, 6\) in the "
                     r"file but \(16, 6\) in the model; build it with the saved model_args=\{'num_"
                     r"inputs': 6, 'num_hiddens': 8\}, or use load_model\(\)", str(info.value))
    path = save_checkpoint(tmp_path / "seq.pt", nn.Sequential(nn.Linear(6, 3)))
    with pytest.raises(ValueError, match=r"the first tensor that differs is 'hidden.weight', "
                                         r"missing in the file but \(8, 6\) in the model; build "
                                         r"the model with the same class and arguments"):
        load_checkpoint(path, TwoLayer(6, 8))


def test_a_truncated_or_damaged_checkpoint_says_so(tmp_path):
    net, optimizer, _ = small_setup()
    path = save_checkpoint(tmp_path / "ckpt.pt", net, optimizer)
    path.write_bytes(path.read_bytes()[:1000])  # a copy cut short
    with pytest.raises(ValueError, match=r"load_checkpoint\(\): .*ckpt.pt \(1,000 bytes\) is "
                                         r"truncated or damaged \(not a complete zip archive, as "
                                         r"torch.save writes\); it was cut short while being "
                                         r"written or copied: copy it again, or delete it"):
        load_checkpoint(path, net)
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match=r"is truncated or damaged"):
        d2lite.fit(net, [(torch.randn(4, 6), torch.zeros(4).long())], loss_fn=nn.CrossEntropyLoss(),
                   checkpoint=path, resume=True, device="cpu", plot=False, verbose=False)
    torch.save(net.state_dict(), path)
    with pytest.raises(ValueError, match=r"is not a save_checkpoint\(\) file; a plain state_dict"):
        load_checkpoint(path, net)


def test_fit_checkpoint_holds_everything_and_loads_weights_only(tmp_path):
    net, optimizer, data = small_setup()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    d2lite.fit(net, data, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=2,
               scheduler=scheduler, checkpoint=tmp_path / "ckpt.pt", device="cpu",
               metrics=[d2lite.accuracy], plot=False, verbose=False)
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "epoch", "history", "rng"} <= set(state)
    assert state["epoch"] == 2 and len(state["history"]["train_loss"]) == 2
    assert state["scheduler"]["last_epoch"] == 2
    assert set(state["rng"]) == {"torch", "cuda", "numpy", "python"}


def test_resume_continues_at_the_next_epoch(tmp_path):
    path = tmp_path / "ckpt.pt"
    kwargs = dict(loss_fn=nn.CrossEntropyLoss(), device="cpu", plot=False, verbose=False)
    net, optimizer, data = small_setup()
    full = d2lite.fit(net, data, optimizer=optimizer, epochs=4, **kwargs)
    expected = [p.clone() for p in net.parameters()]

    net, optimizer, data = small_setup()
    d2lite.fit(net, data, optimizer=optimizer, epochs=2, checkpoint=path, **kwargs)
    net, optimizer, data = small_setup()  # as a fresh process would rebuild everything
    torch.manual_seed(123)  # ... and with its own random state, which the checkpoint restores
    for p in net.parameters():
        nn.init.normal_(p)
    resumed = d2lite.fit(net, data, optimizer=optimizer, epochs=4, checkpoint=path, resume=True,
                         **kwargs)
    assert len(resumed) == 4 and resumed["train_loss"] == full["train_loss"]
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), expected, strict=True))


def test_resume_without_a_file_starts_fresh(tmp_path):
    net, optimizer, data = small_setup()
    history = d2lite.fit(net, data, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer,
                         epochs=1, checkpoint=tmp_path / "new.pt", resume=True, device="cpu",
                         plot=False, verbose=False)
    assert len(history) == 1 and (tmp_path / "new.pt").is_file()


CHILD = '''
import sys, time, torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import d2lite

ckpt, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
d2lite.seed_everything(0)
X, y = torch.randn(512, 10), torch.randint(0, 4, (512,))
data = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 4))
optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)


class HangInEpoch2:
    """The DataLoader's batches, but batch 6 of epoch 2 never comes: the parent kills us there."""

    def __init__(self, loader):
        self.loader, self.epoch = loader, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if self.epoch == 1 and i == 5:
                open(out + ".in_epoch_2", "w").close()
                time.sleep(600)
            yield batch


data = HangInEpoch2(data) if mode == "hang" else data
d2lite.fit(net, data, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=4,
           scheduler=scheduler, device="cpu", checkpoint=ckpt if mode != "plain" else None,
           resume=mode == "resume", plot=False, verbose=False)
torch.save(net.state_dict(), out)
'''


@pytest.mark.slow  # trains in a subprocess, kills it, resumes in another
def test_sigkill_in_epoch_2_then_resume_gives_identical_weights(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    ckpt, killed_out = tmp_path / "ckpt.pt", tmp_path / "killed.pt"

    def start(mode, out):
        return subprocess.Popen([sys.executable, str(script), str(ckpt), str(out), mode], env=env)

    plain = start("plain", tmp_path / "plain.pt")  # runs while the other one is killed
    victim = start("hang", killed_out)
    deadline = time.monotonic() + 120
    while not Path(str(killed_out) + ".in_epoch_2").exists():
        assert victim.poll() is None and time.monotonic() < deadline, "child never reached epoch 2"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1  # epoch 2 was cut short

    assert subprocess.run([sys.executable, str(script), str(ckpt), str(killed_out), "resume"],
                          env=env, timeout=120).returncode == 0
    assert plain.wait(timeout=120) == 0
    expected = torch.load(tmp_path / "plain.pt", weights_only=True)
    resumed = torch.load(killed_out, weights_only=True)
    for name, value in expected.items():
        assert torch.equal(value, resumed[name]), f"{name} differs after resuming"
