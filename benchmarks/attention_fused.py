"""Time naive attention (`d2lite.models.DotProductAttention`) against PyTorch's fused kernel.

The naive path computes softmax(Q K^T / sqrt(d)) V with two `bmm` calls and a softmax, storing
the (n x n) scores of every head; the fused path is `F.scaled_dot_product_attention`, which on
(batch, heads, n, d) inputs runs a flash-attention kernel (CPU, or FlashAttention /
memory-efficient attention on CUDA) that never stores them. At each sequence length n the two
run interleaved after a warm-up (forward only, no gradients) and the medians are printed, with
the largest gap between their outputs. The last line is `ratio=<naive time / fused time>` at the
longest length: how many times faster the fused kernel is there (above 1: fused is faster).

    python benchmarks/attention_fused.py                  # CPU, n = 512 ... 4096, under a minute
    python benchmarks/attention_fused.py --quick          # CPU, n = 256 ... 1024, a few seconds
    python benchmarks/attention_fused.py --device cuda    # GPU, n = 512 ... 16384

The times are wall clock: on a shared machine other programs move them (the lesson
`notebooks/06_attention/attention_cost` explains why the book never asserts them).
"""
import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

import d2lite


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device) -> float:
    """Wall-clock seconds of one call of fn(), the device synchronised before and after."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def peak_bytes(fn, device: torch.device) -> int | None:
    """Peak CUDA memory allocated during fn() beyond what was allocated before (None on CPU)."""
    if device.type != "cuda":
        return None
    sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    fn()
    sync(device)
    return torch.cuda.max_memory_allocated(device) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--quick", action="store_true", help="short lengths, fewer repeats")
    parser.add_argument("--lengths", type=int, nargs="+", default=None)
    parser.add_argument("--repeats", type=int, default=None, help="timed runs of each path")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--dim", type=int, default=64, help="size d of one head")
    parser.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    parser.add_argument("--causal", action="store_true", help="causal mask on both paths")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    if args.lengths is None:
        if args.quick:
            args.lengths = [256, 512, 1024]
        else:
            args.lengths = ([512, 1024, 2048, 4096] if device.type == "cpu"
                            else [512, 1024, 2048, 4096, 8192, 16384])
    repeats = args.repeats or (3 if args.quick else 5)
    B, h, d = args.batch, args.heads, args.dim
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"batch {B}, {h} heads of size {d}, {args.dtype}, "
          f"{'causal' if args.causal else 'no mask'}, median of {repeats} runs each")

    naive = d2lite.models.DotProductAttention(dropout=0.0)
    ratio = None
    for n in args.lengths:
        g = torch.Generator(device=device).manual_seed(0)
        Q, K, V = torch.randn(3, B, h, n, d, generator=g, device=device, dtype=dtype)
        # the naive layer takes (B * h, n, d); causal: query i sees keys 0..i (valid length i+1)
        lens = torch.arange(1, n + 1, device=device).expand(B * h, n) if args.causal else None

        def run_naive(Q=Q, K=K, V=V, lens=lens, n=n):
            return naive(Q.reshape(B * h, n, d), K.reshape(B * h, n, d),
                         V.reshape(B * h, n, d), lens)

        def run_fused(Q=Q, K=K, V=V):
            return F.scaled_dot_product_attention(Q, K, V, is_causal=args.causal)

        with torch.no_grad():
            gap = (run_fused().reshape(B * h, n, d).float()
                   - run_naive().float()).abs().max().item()  # also the warm-up
            times = {"naive": [], "fused": []}
            for r in range(repeats):
                order = ("naive", "fused") if r % 2 == 0 else ("fused", "naive")
                for which in order:
                    fn = run_naive if which == "naive" else run_fused
                    times[which].append(timed(fn, device))
            memory = {"naive": peak_bytes(run_naive, device),
                      "fused": peak_bytes(run_fused, device)}
        naive_s, fused_s = (statistics.median(times[k]) for k in ("naive", "fused"))
        ratio = naive_s / fused_s
        scores_mb = B * h * n * n * torch.finfo(dtype).bits / 8 / 2**20
        line = (f"n = {n:5d}: naive {naive_s * 1e3:9.2f} ms, fused {fused_s * 1e3:8.2f} ms, "
                f"naive / fused {ratio:5.2f}; max gap {gap:.1e}; score matrix "
                f"{scores_mb:7.1f} MB")
        if memory["naive"] is not None:
            line += (f"; peak memory naive {memory['naive'] / 2**20:.1f} MB, "
                     f"fused {memory['fused'] / 2**20:.1f} MB")
        print(line)
        del Q, K, V
        naive.attention_weights = None  # free the last score matrix before the next n
    print(f"ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
