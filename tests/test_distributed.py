"""fit under torchrun: 2 CPU processes (gloo) give the loss curve of 1 process on the same global
batch, and only rank 0 prints and saves."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

import d2lite
from d2lite.distributed import shard_data

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = '''
import json, os, sys, torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import d2lite

def problem():
    torch.manual_seed(0)
    X = torch.randn(256, 8)
    y = X @ torch.randn(8, 1) + 0.1 * torch.randn(256, 1)
    net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    return TensorDataset(X, y), net

def run(batch_size, shuffle, **kwargs):
    dataset, net = problem()
    data = DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
    history = d2lite.fit(net, data, loss_fn=nn.MSELoss(), epochs=3, device="cpu",
                         optimizer=torch.optim.SGD(net.parameters(), lr=0.05), **kwargs)
    return history["train_loss"], [p.tolist() for p in net.parameters()]

if __name__ == "__main__":
    out = sys.argv[1]
    rank = int(os.environ["RANK"])
    sys.stderr = open(f"{out}.{rank}.err", "w")  # where each process's progress bars would go
    results = {"plain": run(16, False, checkpoint=out + ".ckpt", verbose=True),
               "shuffled": run(16, True),
               "rank": rank, "world": int(os.environ["WORLD_SIZE"])}
    with open(f"{out}.{rank}.json", "w") as f:
        json.dump(results, f)
'''


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    script = folder / "ddp_fit.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "D2LITE_WIDGETS": ""}  # bars shown
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", str(script), str(folder / "out")],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads((folder / f"out.{r}.json").read_text()) for r in (0, 1)]
    return results, done, folder


def one_process(per_process_batch, world, shuffle):
    """The same training in this process, on global batches of world * per_process_batch."""
    namespace = {}
    exec(compile(SCRIPT, "ddp_fit.py", "exec"), namespace)
    dataset, net = namespace["problem"]()
    # what the 2 processes see together: DistributedSampler's order (seed 0 + epoch), all of it
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=shuffle)
    data = DataLoader(dataset, batch_size=per_process_batch * world, sampler=sampler)
    history = d2lite.fit(net, data, loss_fn=nn.MSELoss(), epochs=3, device="cpu",
                         optimizer=torch.optim.SGD(net.parameters(), lr=0.05))
    return history["train_loss"], [p.detach() for p in net.parameters()]


@pytest.mark.slow  # starts 2 processes under torchrun
@pytest.mark.parametrize("shuffle", [False, True])
def test_two_processes_match_one_process_on_the_same_global_batch(two_processes, shuffle):
    results, _, _ = two_processes
    key = "shuffled" if shuffle else "plain"
    loss, params = one_process(16, 2, shuffle)
    for result in results:
        assert result["world"] == 2
        torch.testing.assert_close(torch.tensor(result[key][0]), torch.tensor(loss),
                                   rtol=1e-5, atol=1e-5)
        for p, q in zip(result[key][1], params, strict=True):
            torch.testing.assert_close(torch.tensor(p), q, rtol=1e-5, atol=1e-5)
    assert loss[-1] < loss[0] / 5, "the reference run did not learn"


@pytest.mark.slow  # starts 2 processes under torchrun
def test_only_rank_0_prints_and_saves(two_processes):
    results, done, folder = two_processes
    assert "epochs: 100%" in (folder / "out.0.err").read_text()
    assert (folder / "out.1.err").read_text() == "", "rank 1 printed something"
    assert [p.name for p in folder.glob("out.ckpt*")] == ["out.ckpt"]
    saved = torch.load(folder / "out.ckpt", weights_only=True)
    assert saved["epoch"] == 3 and saved["history"]["train_loss"] == results[0]["plain"][0]


def test_shard_data_splits_lists_round_robin():
    batches = [(torch.full((2,), i), torch.zeros(2)) for i in range(7)]
    shares = [[int(X[0]) for X, _ in shard_data(batches, r, 3)] for r in range(3)]
    assert shares == [[0, 3], [1, 4], [2, 5]]  # the 7th batch is dropped: equal steps per rank
    with pytest.raises(ValueError, match="under torchrun, train_data must be a DataLoader"):
        shard_data(iter(batches), 0, 2)
