"""Time `d2lite.fit` against the hand-written loop it replaces: same model, data, optimizer, seed.

CPU: an MLP (784 -> 256 -> 10) on MNIST-sized random data; CUDA: a small CNN on 28x28 images.
The two loops alternate in one process (hand, fit, fit, hand, ...) after a warm-up; the medians
are printed, and the last line is `ratio=<fit/hand>` (targets: <= 1.02 on CPU, <= 1.05 on a GPU).

    python benchmarks/fit_overhead.py                 # CPU, about a minute on 2 cores
    python benchmarks/fit_overhead.py --quick         # CPU, under 30 s
    python benchmarks/fit_overhead.py --device cuda   # GPU

On a shared machine, `--threads 1 --clock cpu` times the process's own CPU seconds, which other
programs running at the same time barely disturb.
"""
import argparse
import statistics
import time

import torch
from torch import nn

import d2lite


def make_model(kind: str) -> nn.Module:
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(  # (batch, 1, 28, 28) -> (batch, 10)
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (batch, 32, 14, 14)
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (batch, 64, 7, 7)
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def make_batches(n: int, batch_size: int, device: torch.device) -> list:
    """MNIST-sized random data, already on `device`, cut into (X, y) batches (views, no copy)."""
    g = torch.Generator().manual_seed(0)
    X = torch.rand(n, 1, 28, 28, generator=g).to(device)  # (n, 1, 28, 28)
    y = torch.randint(0, 10, (n,), generator=g).to(device)  # (n,)
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n, batch_size)]


def hand_loop(model, batches, optimizer, loss_fn, epochs, device) -> list[float]:
    """The plain loop: same phases as fit, the epoch loss summed on the device, one sync."""
    n = sum(len(y) for _, y in batches)
    losses = []
    for _ in range(epochs):
        model.train()
        total = torch.zeros((), device=device)
        for X, y in batches:
            X, y = X.to(device), y.to(device)
            loss = loss_fn(model(X), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(y)
        losses.append(total.item() / n)
    return losses


def fit_loop(model, batches, optimizer, loss_fn, epochs, device, verbose) -> list[float]:
    history = d2lite.fit(model, batches, loss_fn=loss_fn, optimizer=optimizer, epochs=epochs,
                         device=device, verbose=verbose)
    return history["train_loss"]


def timed(which, args, batches, device):
    """Seconds (wall or CPU) for one training run from the same seed; also the final weights."""
    torch.manual_seed(0)
    model = make_model(args.model).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = clock()
    if which == "fit":
        fit_loop(model, batches, optimizer, loss_fn, args.epochs, device, args.verbose)
    else:
        hand_loop(model, batches, optimizer, loss_fn, args.epochs, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return clock() - start, [p.detach().clone() for p in model.parameters()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--quick", action="store_true", help="fewer examples and repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs of each loop")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--model", choices=["mlp", "cnn"], default=None)
    parser.add_argument("--verbose", action="store_true", help="time fit with progress bars")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    args.model = args.model or ("mlp" if device.type == "cpu" else "cnn")
    args.epochs = args.epochs or (1 if args.quick else 2)
    repeats = args.repeats or 8
    n = 30_000 if args.quick and device.type == "cpu" else 60_000
    batches = make_batches(n, 256, device)
    print(f"{args.model} on {device}, {n} examples, batch 256, {args.epochs} epoch(s), "
          f"{repeats} runs of each, torch threads {torch.get_num_threads()}, {args.clock} clock")

    _, hand_weights = timed("hand", args, batches, device)  # warm-up (and the same-work check)
    _, fit_weights = timed("fit", args, batches, device)
    same = all(torch.allclose(p, q, atol=1e-5) for p, q in zip(hand_weights, fit_weights,
                                                                strict=True))
    # On CUDA, cuDNN's fastest kernels add in a varying order, so the weights differ slightly
    # even between two runs of the same loop; on the CPU they must match.
    print(f"same final weights (atol 1e-5): {same}"
          + (" (not expected on CUDA: non-deterministic kernels)" if device.type == "cuda" else ""))
    times = {"hand": [], "fit": []}
    for r in range(repeats):
        order = ("hand", "fit") if r % 2 == 0 else ("fit", "hand")
        for which in order:
            times[which].append(timed(which, args, batches, device)[0])
    for which in ("hand", "fit"):
        runs = " ".join(f"{t:.3f}" for t in times[which])
        print(f"{which:4s} median {statistics.median(times[which]):.3f} s   runs: {runs}")
    pairs = [f / h for f, h in zip(times["fit"], times["hand"], strict=True)]
    print(f"median of per-pair ratios {statistics.median(pairs):.4f}")
    print(f"ratio={statistics.median(times['fit']) / statistics.median(times['hand']):.4f}")


if __name__ == "__main__":
    main()
