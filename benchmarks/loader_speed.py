"""Time one MNIST epoch through `d2lite.data.batches` and through `DataLoader(TensorDataset(...))`.

Both deliver shuffled (256, 1, 28, 28) batches on the training device (`d2lite.try_gpu()`).
Also times parsing all of MNIST from its gz files. Wall-clock and CPU times are both shown (CPU
time is steadier on a busy machine); the last line is the wall-clock `ratio=<x>` (target >= 10).
Run: D2LITE_DATA=/path/to/data python benchmarks/loader_speed.py [batch_size]
"""
import os
import sys
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

import d2lite


def seconds(fn) -> tuple[float, float]:
    """Wall-clock and CPU seconds (this process, all threads) of one call of fn."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu


def best(fn, repeat: int) -> tuple[float, float]:
    """The best wall-clock and the best CPU time of `repeat` calls."""
    runs = [seconds(fn) for _ in range(repeat)]
    return min(w for w, _ in runs), min(c for _, c in runs)


def epoch(loader, device) -> None:
    for X, y in loader:
        X, y = X.to(device), y.to(device)  # a no-op for `batches`, which is already there


def main() -> None:
    batch_size = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    device = d2lite.try_gpu()
    torch.manual_seed(0)
    parse, parse_cpu = best(lambda: d2lite.data.load_mnist(verbose=False), repeat=3)
    (X, y), _ = d2lite.data.load_mnist(verbose=False)
    ours = d2lite.data.batches(X, y, batch_size, seed=0, device=device)
    theirs = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)
    # interleave the two so that both see the same background load; keep the best of each
    rounds = [(best(lambda: epoch(ours, device), 3), best(lambda: epoch(theirs, device), 1))
              for _ in range(3)]
    (t_ours, c_ours), (t_theirs, c_theirs) = [(min(r[k][0] for r in rounds),
                                              min(r[k][1] for r in rounds)) for k in (0, 1)]
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads,"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"parse all of MNIST from gz: {parse:.3f} s wall, {parse_cpu:.3f} s CPU (best of 3)")
    print(f"one epoch, {len(y):,} images, batch {batch_size} ({len(ours)} batches),"
          " best of 9 (ours) and 3 (DataLoader):")
    for label, (wall, cpu) in (("d2lite.data.batches", (t_ours, c_ours)),
                               ("DataLoader(TensorDataset(...))", (t_theirs, c_theirs))):
        print(f"  {label:<31} {wall * 1000:7.1f} ms wall {cpu * 1000:7.1f} ms CPU")
    # an evaluation pass needs no shuffling: `batches` then yields views, with no copy at all
    plain_ours = best(lambda: epoch(d2lite.data.batches(X, y, batch_size, shuffle=False,
                                                        device=device), device), 3)[0]
    plain_theirs = best(lambda: epoch(DataLoader(TensorDataset(X, y), batch_size=batch_size),
                                      device), 1)[0]
    print(f"  without shuffling: batches {plain_ours * 1000:.1f} ms, DataLoader"
          f" {plain_theirs * 1000:.1f} ms wall (ratio {plain_theirs / plain_ours:.0f})")
    print(f"shuffled epoch, CPU-time ratio {c_theirs / c_ours:.1f}")
    print(f"ratio={t_theirs / t_ours:.1f}")


if __name__ == "__main__":
    main()
