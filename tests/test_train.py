"""fit and evaluate: same result as a hand-written loop, metrics, validation, callbacks, early
stopping, gradient clipping, bf16 autocast, schedulers, progress output."""
import copy

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import d2lite
from d2lite.train import FitState

QUIET = dict(device="cpu", plot=False, verbose=False)


def blobs(n=256, seed=0):
    """Three Gaussian blobs in 2-D: (n, 2) points and (n,) labels."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centres = torch.tensor([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    return centres[y] + 0.7 * torch.randn(n, 2, generator=g), y


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))


def test_fit_equals_the_plain_loop_it_replaces():
    X, y = blobs()
    loss_fn = nn.CrossEntropyLoss()

    net = mlp()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    torch.manual_seed(1)
    data = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
    history = d2lite.fit(net, data, loss_fn=loss_fn, optimizer=optimizer, epochs=3, **QUIET)

    ref = mlp()
    ref_optimizer = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    torch.manual_seed(1)  # same shuffles: fit's first-batch check must not draw random numbers
    epoch_losses = []
    for _ in range(3):
        ref.train()
        total = 0.0
        for Xb, yb in data:
            loss = loss_fn(ref(Xb), yb)
            ref_optimizer.zero_grad()
            loss.backward()
            ref_optimizer.step()
            total += loss.item() * len(yb)
        epoch_losses.append(total / len(y))

    for p, q in zip(net.parameters(), ref.parameters(), strict=True):
        assert torch.equal(p, q)
    torch.testing.assert_close(torch.tensor(history["train_loss"]), torch.tensor(epoch_losses))


def test_fit_learns_and_reports_metrics_and_validation():
    X, y = blobs(512)
    train = [(X[i:i + 64], y[i:i + 64]) for i in range(0, 384, 64)]
    val = [(X[i:i + 64], y[i:i + 64]) for i in range(384, 512, 64)]
    net = mlp()
    history = d2lite.fit(net, train, loss_fn=nn.CrossEntropyLoss(), epochs=5, val_data=val,
                         metrics=[d2lite.accuracy], optimizer=torch.optim.Adam(
                             net.parameters(), lr=0.05), **QUIET)
    assert len(history) == 5 and len(history["seconds"]) == 5
    assert set(history.curves()) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    # evaluate gives the numbers fit recorded for the last epoch, and a reference computation
    result = d2lite.evaluate(net, val, loss_fn=nn.CrossEntropyLoss(), metrics=d2lite.accuracy)
    assert result == pytest.approx({"loss": history["val_loss"][-1],
                                    "accuracy": history["val_accuracy"][-1]})
    with torch.no_grad():
        reference = (net(X[384:]).argmax(1) == y[384:]).float().mean().item()
    assert result["accuracy"] == pytest.approx(reference)
    assert "History(5 epochs: train_loss" in repr(history)


def test_default_optimizer_is_adam_with_lr_1e_3():
    X, y = blobs(64)
    net, ref = mlp(), mlp()
    d2lite.fit(net, [(X, y)], loss_fn=nn.CrossEntropyLoss(), epochs=2, **QUIET)
    optimizer = torch.optim.Adam(ref.parameters(), lr=1e-3)
    for _ in range(2):
        loss = nn.CrossEntropyLoss()(ref(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), ref.parameters(), strict=True))


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(2, 3), nn.Embedding(4, 3)

    def forward(self, points, tokens):  # (batch, 2), (batch,) -> (batch, 3)
        return self.a(points) + self.b(tokens)


def test_tuple_inputs_are_unpacked_into_the_model():
    X, y = blobs(64)
    tokens = torch.randint(0, 4, (64,))
    data = [((X[:32], tokens[:32]), y[:32]), ((X[32:], tokens[32:]), y[32:])]
    history = d2lite.fit(TwoInputs(), data, loss_fn=nn.CrossEntropyLoss(), val_data=data,
                         metrics=[d2lite.accuracy], **QUIET)
    assert len(history) == 1 and 0 <= history["val_accuracy"][0] <= 1
    # a DataLoader turns the tuple into a list; that works too
    loader = DataLoader(TensorDataset(X, tokens, y), batch_size=16,
                        collate_fn=lambda rows: ((torch.stack([r[0] for r in rows]),
                                                  torch.stack([r[1] for r in rows])),
                                                 torch.stack([r[2] for r in rows])))
    assert len(d2lite.fit(TwoInputs(), loader, loss_fn=nn.CrossEntropyLoss(), **QUIET)) == 1


class Recorder:
    def __init__(self, stop_at=None):
        self.epochs, self.stop_at = [], stop_at

    def on_epoch_end(self, state: FitState):
        self.epochs.append((state.epoch, len(state.history)))
        state.stop = state.epoch == self.stop_at


def test_callbacks_see_every_epoch_and_can_stop():
    X, y = blobs(96)
    data = [(X[i:i + 32], y[i:i + 32]) for i in range(0, 96, 32)]
    recorder = Recorder(stop_at=1)
    history = d2lite.fit(mlp(), data, loss_fn=nn.CrossEntropyLoss(), epochs=5,
                         callbacks=[recorder], **QUIET)
    assert recorder.epochs == [(0, 1), (1, 2)] and len(history) == 2


def test_early_stopping_stops_and_restores_the_best_weights():
    X, y = blobs(64)
    net = mlp()
    stopper = d2lite.EarlyStopping("train_loss", patience=2)
    history = d2lite.fit(net, [(X, y)], loss_fn=nn.CrossEntropyLoss(), epochs=10,
                         optimizer=torch.optim.SGD(net.parameters(), lr=0.0),  # never improves
                         callbacks=[stopper], **QUIET)
    assert len(history) == 3 and stopper.best_epoch == 0

    # restore_best: feed a made-up history whose best epoch is the first
    model = nn.Linear(2, 1)
    best = copy.deepcopy(model.state_dict())
    state = FitState(model, torch.optim.SGD(model.parameters()), d2lite.History(), epochs=10)
    stopper = d2lite.EarlyStopping("val_accuracy", patience=2, mode="max", restore_best=True)
    for epoch, accuracy in enumerate([0.8, 0.7, 0.75]):
        state.epoch = epoch
        state.history.append({"loss": 1.0}, {"accuracy": accuracy}, 0.1)
        stopper.on_epoch_end(state)
        assert state.stop == (epoch == 2)
        if not state.stop:
            nn.init.zeros_(model.weight)  # "training" changes the weights
    assert stopper.best_epoch == 0 and torch.equal(model.weight, best["weight"])
    with pytest.raises(ValueError, match=r"EarlyStopping\(\): no curve named 'val_lss'"):
        d2lite.EarlyStopping("val_lss").on_epoch_end(state)
    with pytest.raises(ValueError, match=r"EarlyStopping\(\): got mode='up'"):
        d2lite.EarlyStopping(mode="up")


def test_early_stopping_restores_best_weights_in_fit():
    X, y = blobs(64)
    net = mlp()
    snapshots = []

    class Snapshot:
        def on_epoch_end(self, state):
            snapshots.append(copy.deepcopy(state.model.state_dict()))

    stopper = d2lite.EarlyStopping("train_loss", patience=1, restore_best=True)
    d2lite.fit(net, [(X, y)], loss_fn=nn.CrossEntropyLoss(), epochs=6,
               optimizer=torch.optim.SGD(net.parameters(), lr=50.0),  # bounces around
               callbacks=[Snapshot(), stopper], **QUIET)
    best = snapshots[stopper.best_epoch]
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in best.items())


def test_grad_clip_limits_the_update():
    X, y = blobs(64)
    net = mlp()
    before = torch.cat([p.detach().flatten().clone() for p in net.parameters()])
    d2lite.fit(net, [(X, y)], loss_fn=nn.CrossEntropyLoss(), grad_clip=1e-3,
               optimizer=torch.optim.SGD(net.parameters(), lr=1.0), **QUIET)
    after = torch.cat([p.detach().flatten() for p in net.parameters()])
    assert (after - before).norm() <= 1e-3 * (1 + 1e-4)


def test_bf16_autocast_on_cpu():
    X, y = blobs(128)
    net = mlp()
    dtypes = []
    net[0].register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
    history = d2lite.fit(net, [(X, y)], loss_fn=nn.CrossEntropyLoss(), amp="bf16", epochs=20,
                         optimizer=torch.optim.Adam(net.parameters(), lr=0.05), **QUIET)
    assert set(dtypes) == {torch.bfloat16}
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert net[0].weight.dtype == torch.float32  # the weights stay in float32


def test_scheduler_steps_once_per_epoch():
    X, y = blobs(64)
    net = mlp()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.8)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    data = [(X[:32], y[:32]), (X[32:], y[32:])]
    d2lite.fit(net, data, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=3,
               scheduler=scheduler, **QUIET)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)


def test_reduce_lr_on_plateau_goes_in_a_callback_and_fit_says_how():
    X, y = blobs(64)
    net, data = mlp(), [(X, y)]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.8)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0)
    with pytest.raises(TypeError, match=r"fit\(\): ReduceLROnPlateau steps on a validation loss.*"
                                        r"scheduler.step\(state.history\['val_loss'\]\[-1\]\)"):
        d2lite.fit(net, data, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer,
                   scheduler=plateau, **QUIET)

    class StepOnValLoss:
        def on_epoch_end(self, state):
            plateau.step(state.history["val_loss"][-1])

    d2lite.fit(net, data, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=1,
               val_data=data, callbacks=[StepOnValLoss()], **QUIET)
    assert plateau.best == pytest.approx(d2lite.evaluate(net, data, loss_fn=nn.CrossEntropyLoss())
                                         ["loss"])


def test_scheduler_steps_every_batch_like_a_hand_loop():
    # fit with OneCycleLR stepped per batch ends with the weights of the plain loop it stands for
    X, y = blobs(64)
    data = [(X[:32], y[:32]), (X[32:], y[32:])]
    nets = []
    for use_fit in (True, False):
        torch.manual_seed(0)
        net = mlp()
        optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=6)
        if use_fit:
            d2lite.fit(net, data, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=3,
                       scheduler=schedule, scheduler_step="batch", **QUIET)
        else:
            for _ in range(3):
                for Xb, yb in data:
                    loss = nn.functional.cross_entropy(net(Xb), yb)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    schedule.step()
        assert schedule.last_epoch == 6
        nets.append(net)
    for p, q in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_scheduler_step_must_be_epoch_or_batch():
    net = mlp()
    with pytest.raises(ValueError, match="scheduler_step='step'; expected 'epoch' or 'batch'"):
        d2lite.fit(net, [blobs(8)], loss_fn=nn.CrossEntropyLoss(), scheduler_step="step", **QUIET)


class SeededBatches:
    """Re-iterable batches whose order depends only on seed + epoch (as set_epoch says)."""

    def __init__(self, X, y):
        self.X, self.y, self.epoch, self.epochs_seen = X, y, 0, []

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.epochs_seen.append(epoch)

    def __len__(self):
        return 2

    def __iter__(self):
        order = torch.randperm(len(self.y), generator=torch.Generator().manual_seed(self.epoch))
        return iter([(self.X[order[:32]], self.y[order[:32]]),
                     (self.X[order[32:]], self.y[order[32:]])])


def test_set_epoch_is_called_on_the_data_before_each_epoch():
    X, y = blobs(64)
    data = SeededBatches(X, y)
    d2lite.fit(mlp(), data, loss_fn=nn.CrossEntropyLoss(), epochs=3, **QUIET)
    assert data.epochs_seen == [0, 1, 2]


def test_evaluate_keeps_the_mode_and_uses_the_model_device():
    X, y = blobs(64)
    net = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5))
    net.train()
    first = d2lite.evaluate(net, [(X, y)], metrics={"acc": d2lite.accuracy})
    second = d2lite.evaluate(net, [(X, y)], metrics={"acc": d2lite.accuracy})
    assert first == second and set(first) == {"acc"}  # eval mode: dropout off
    assert net.training
    with pytest.raises(ValueError, match=r"evaluate\(\): data yielded no batches"):
        d2lite.evaluate(net, [], metrics=[d2lite.accuracy])


def test_verbose_false_prints_nothing(capfd):
    X, y = blobs(64)
    d2lite.fit(mlp(), [(X, y)], loss_fn=nn.CrossEntropyLoss(), epochs=2, val_data=[(X, y)],
               **QUIET)
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("widgets", ["live", "static"])
def test_verbose_alone_decides_the_progress_bars(capfd, monkeypatch, widgets):
    monkeypatch.setenv("D2LITE_WIDGETS", widgets)  # a widget setting: it does not touch fit
    X, y = blobs(64)
    d2lite.fit(mlp(), [(X, y)], loss_fn=nn.CrossEntropyLoss(), epochs=2, device="cpu",
               verbose=True)
    out, err = capfd.readouterr()
    assert out == "" and "epochs: 100%" in err and "epoch 2" in err and "train_loss=" in err
    d2lite.fit(mlp(), [(X, y)], loss_fn=nn.CrossEntropyLoss(), epochs=2, device="cpu")
    assert capfd.readouterr() == ("", "")  # verbose=False is the default


def test_early_stopping_says_it_restored_weights_only_when_verbose(capfd):
    X, y = blobs(64)
    for verbose in (False, True):
        stopper = d2lite.EarlyStopping("train_loss", patience=1, restore_best=True)
        net = mlp()
        d2lite.fit(net, [(X, y)], loss_fn=nn.CrossEntropyLoss(), epochs=3, callbacks=[stopper],
                   optimizer=torch.optim.SGD(net.parameters(), lr=0.0), device="cpu",
                   verbose=verbose)
        out, _ = capfd.readouterr()
        assert ("EarlyStopping: restored the weights of epoch 1" in out) == verbose


def test_history_round_trips_through_a_plain_dict():
    history = d2lite.History()
    history.append({"loss": 1.0, "accuracy": 0.5}, {"loss": 1.1}, seconds=0.1)
    history.append({"loss": 0.5, "accuracy": 0.7}, {"loss": 0.6}, seconds=0.1)
    plain = history.to_dict()
    assert plain == {"train_loss": [1.0, 0.5], "train_accuracy": [0.5, 0.7],
                     "val_loss": [1.1, 0.6], "seconds": [0.1, 0.1]}
    assert d2lite.History(plain).to_dict() == plain
    assert history.curves() == ["train_loss", "train_accuracy", "val_loss"]
    with pytest.raises(KeyError, match="no curve named 'val_accuracy'"):
        history["val_accuracy"]


def test_early_stopping_does_not_restore_by_default():
    X, y = blobs(64)
    net = mlp()
    stopper = d2lite.EarlyStopping("train_loss", patience=1)
    d2lite.fit(net, [(X, y)], loss_fn=nn.CrossEntropyLoss(), epochs=6,
               optimizer=torch.optim.SGD(net.parameters(), lr=50.0), callbacks=[stopper], **QUIET)
    assert stopper.best_weights is None
