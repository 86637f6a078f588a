# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # GPUs and performance
#
# Every lesson in this book runs on a laptop CPU and, unchanged, on a GPU. This lesson shows
# what makes that work and how to make training fast once you have the hardware: where tensors
# live and what moving them costs, how to time code honestly, mixed precision, `torch.compile`,
# memory layouts, input pipelines, and training on several GPUs (or machines) with
# `DistributedDataParallel`. Each speed-up is *shown* with a measurement on the machine that ran
# the lesson; what the lesson *checks* is that each trick leaves the results right.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import copy
import csv
import io
import math
import os
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import matplotlib.pyplot as plt

import d2lite

# %% [markdown]
# ## Devices
#
# A tensor lives on one [device](../../book/glossary.md#term-device): the CPU's memory, or
# one GPU's memory. An operation
# runs where its inputs are, and all its inputs must be on the same device. `d2lite.try_gpu()`
# returns the first GPU when there is one (CUDA, or Apple's MPS) and the CPU otherwise, which is
# how every lesson runs unchanged on either. A model's parameters are tensors too, so a model is
# moved with `.to(device)`, and every batch must follow it there.

# %%
device = d2lite.try_gpu()
print("device:", device, "| GPUs:", d2lite.num_gpus(), "| torch", torch.__version__)
x = torch.ones(2, 3)                     # made on the CPU
y = x.to(device)                         # a copy there (x itself on the CPU)
net = nn.Linear(3, 1).to(device)
assert y.device.type == device.type and net.weight.device.type == device.type
print(net(y).device)

# %% [markdown]
# ## Timing code honestly
#
# Timing looks easy and is easy to get wrong. Three rules:
#
# 1. **Warm up.** The first call of anything pays one-off costs: loading libraries, choosing
#    kernels, allocating memory, compiling. Run the code a few times before timing it.
# 2. **Synchronise.** A GPU runs asynchronously: a call returns as soon as the work is
#    *queued*. Call `torch.cuda.synchronize()` before reading the clock, or you time the queueing.
# 3. **Repeat and take the median.** Other programs, clock boosts and caches make single runs
#    noisy; the median of several runs is a stable summary that ignores outliers.
#
# `timeit` below does all three. It is used for every speed figure in this lesson.

# %%
def sync(device):
    """Wait until the device has finished all queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timeit(fn, *args, device, repeats=5, warmup=2):
    """Median seconds of `fn(*args)` in `repeats` runs, after `warmup` untimed runs."""
    for _ in range(warmup):
        fn(*args)
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn(*args)
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# %% [markdown]
# A matrix product of two $n \times n$ matrices takes $2n^3$ floating-point operations, so the
# time per product gives the rate the device sustains, in GFLOP/s (billions of operations per
# second). Small products cannot keep the hardware busy; large ones approach its peak, which on
# a GPU is far higher than on a laptop CPU.

# %%
for n in (128, 512, 1024):
    A, B = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    seconds = timeit(torch.matmul, A, B, device=device)
    print(f"n = {n:4d}: {seconds * 1e3:7.2f} ms per product, "
          f"{2 * n**3 / seconds / 1e9:8.1f} GFLOP/s")

# %% [markdown]
# ## Moving data
#
# On a GPU machine the CPU's memory and the GPU's memory are joined by a bus (PCIe or NVLink)
# that is far slower than the GPU's own memory. Moving every batch across it can leave the GPU
# waiting. Two remedies are used throughout this book: keep a small data set *on the device*
# for the whole run (`d2lite.data.batches(X, y, ..., device=device)` moves it once, up front),
# and move the smallest representation: images as 8-bit integers (one byte per pixel),
# converted to floats on the device. The cell measures one Fashion-MNIST batch both ways.

# %%
(X_train, y_train), (X_test, y_test) = d2lite.data.load_fashion_mnist()
batch_u8 = (X_train[:4096] * 255).round().to(torch.uint8)  # (4096, 1, 28, 28): 1 byte
batch_f32 = X_train[:4096]                                  # the same images: 4 bytes
for name, batch in (("uint8", batch_u8), ("float32", batch_f32)):
    seconds = timeit(batch.to, device, device=device)
    mib = batch.nbytes / 2**20
    print(f"{name:8s}: {mib:5.1f} MiB, {seconds * 1e3:6.2f} ms to move")
on_device = batch_u8.to(device).float().div_(255)          # convert where it is used
assert torch.equal((on_device * 255).round().byte().cpu(), batch_u8), "pixels changed"
torch.testing.assert_close(on_device.cpu(), batch_f32, rtol=0, atol=1e-7)

# %% [markdown]
# Nothing is lost: Fashion-MNIST's pixels *are* 8-bit values, so moving a quarter of the bytes
# gives back every pixel (the floats agree to rounding: a GPU may divide by 255 slightly
# differently from the CPU). (On the CPU the "move" is free, which is why the two times
# differ little there.)
#
# ## Input pipelines
#
# PyTorch's `DataLoader` fetches examples one at a time from a `Dataset` and stacks them into
# a batch. That is flexible (each example can be read from disk and augmented) but costs
# Python work per example. Its `num_workers` option runs that work in background processes,
# which pays off when examples are expensive to load; for data already in memory, indexing the
# whole batch at once, as `d2lite.data.batches` does, is much cheaper. One pass over 20,000
# images each way:

# %%
X20k, y20k = X_train[:20_000], y_train[:20_000]
loaders = {
    "DataLoader, 0 workers": DataLoader(TensorDataset(X20k, y20k), batch_size=256,
                                        shuffle=True),
    "DataLoader, 2 workers": DataLoader(TensorDataset(X20k, y20k), batch_size=256,
                                        shuffle=True, num_workers=2,
                                        persistent_workers=True),
    "d2lite.data.batches": d2lite.data.batches(X20k, y20k, batch_size=256, seed=0),
}
for name, loader in loaders.items():
    seconds = timeit(list, loader, device=torch.device("cpu"), repeats=3, warmup=1)
    print(f"{name:22s}: {seconds * 1e3:7.1f} ms per pass of {len(loader)} batches")
sizes = {name: sum(len(yb) for _, yb in loader) for name, loader in loaders.items()}
assert set(sizes.values()) == {20_000}, sizes
del loaders  # stops the worker processes

# %% [markdown]
# Workers help when each example needs real work, such as decoding a JPEG and augmenting it.
# They start processes, so the first pass is slow, and each worker holds a copy of the data set
# object. When data augmentation is a tensor operation on a whole batch (as in
# [transfer learning](../04_cnn/transfer_learning.ipynb)), it can run on the GPU instead.
#
# ## Mixed precision
#
# Floating-point numbers in 32 bits (float32) carry about 7 significant digits. Training rarely
# needs that many: **mixed precision** (混合精度) runs matrix products and convolutions in a
# 16-bit format and keeps the weights, their updates and numerically delicate steps (softmax,
# losses, sums) in float32. Modern GPUs multiply 16-bit numbers several times faster and move
# half the bytes. There are two 16-bit formats:
#
# - **bfloat16** keeps float32's 8 exponent bits (the same range, up to about $3 \times
#   10^{38}$) and only 8 bits of precision (about 3 digits). It needs nothing else and works on
#   recent CPUs and GPUs.
# - **float16** has 11 significant bits (10 stored, one implied) but only 5 exponent bits:
#   below about $6 \times 10^{-5}$ values become *subnormal*, keeping fewer and fewer
#   significant bits, and below about $6 \times 10^{-8}$ they round to zero (the next cell
#   checks both). Small gradients would lose their digits or vanish, so the loss is multiplied
#   by a large factor before the backward pass and the gradients divided by it afterwards
#   (*loss scaling*, `torch.amp.GradScaler`). It needs a CUDA GPU here.
#
# %%
fp16 = torch.finfo(torch.float16)
stored = round(-math.log2(fp16.eps))                # bits after the implied leading 1
print(f"float16: {stored + 1} significant bits; normal down to {fp16.tiny:.1e}, "
      f"subnormal down to {fp16.tiny * fp16.eps:.1e}")
assert stored == 10 and fp16.tiny * fp16.eps == 2.0 ** -24
small = torch.tensor([3e-5, 1e-7, 2e-8]).half()    # (3,): subnormal, subnormal, zero
assert small[0] != 0 and small[1] != 0 and small[2] == 0, small
assert abs(small[1].item() - 1e-7) > 0.1e-7         # a subnormal keeps few digits

# %% [markdown]
# `torch.autocast` picks the precision per operation. `d2lite.fit(..., amp="bf16")` (or
# `"fp16"`, with a `GradScaler`) wraps each forward pass in it. The next cell shows what
# autocast does to one layer: the product comes out in bfloat16, the weights stay float32.

# %%
layer = nn.Linear(784, 10).to(device)
with torch.autocast(device.type, dtype=torch.bfloat16):
    out = layer(X_train[:8].flatten(1).to(device))
print("output:", out.dtype, "| weights:", layer.weight.dtype)
assert out.dtype == torch.bfloat16 and layer.weight.dtype == torch.float32

# %% [markdown]
# Does training in bfloat16 give the same model? Train the same MLP from the same seed on the
# same batches twice, once in float32 and once with `amp="bf16"` (plus `amp="fp16"` when a
# CUDA GPU is present), and compare the validation loss at the end. Rounding differs at every
# step, so the two runs drift apart slightly; the claim to check is that the *result* is as
# good: the final validation losses agree within 0.03.

# %%
split = d2lite.data.train_val_split(X_train, y_train, 0.1, seed=0)
(X_tr, y_tr), (X_val, y_val) = split
train_data = d2lite.data.batches(X_tr[:12_800], y_tr[:12_800], 128, seed=0,
                                 device=device)
val_data = d2lite.data.batches(X_val, y_val, 1000, shuffle=False, device=device)


def train_mlp(amp):
    d2lite.seed_everything(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(),
                        nn.Linear(256, 10))
    history = d2lite.fit(net, train_data, loss_fn=nn.CrossEntropyLoss(), epochs=2,
                         amp=amp, val_data=val_data, device=device)
    return history["val_loss"][-1]


formats = [None, "bf16"] + (["fp16"] if device.type == "cuda" else [])
val_loss = {amp or "fp32": train_mlp(amp) for amp in formats}
print({name: round(loss, 4) for name, loss in val_loss.items()})

# %%
for name, loss in val_loss.items():
    gap = abs(loss - val_loss["fp32"])
    assert gap < 0.03, f"{name}: validation loss {loss:.4f} is {gap:.4f} from float32's"
assert val_loss["fp32"] < 0.6, f"float32 itself did not learn: {val_loss['fp32']:.3f}"

# %% [markdown]
# On the CPU, bfloat16 is often *not* faster: many CPUs have no fast 16-bit arithmetic and pay
# for the conversions. On a recent NVIDIA GPU it typically is, for models large enough to keep
# the GPU busy. Measure before you switch.
#
# ## Memory layout: channels last
#
# A batch of images `(batch, C, H, W)` is stored with each channel's $H \times W$ plane
# contiguous ("channels first"). Convolution kernels on GPUs (with tensor cores) and on CPUs
# with oneDNN often run faster when the $C$ values of each pixel are adjacent instead
# (**channels last**, 通道在后). The shape does not change, only the strides; `model.to(memory_format=
# torch.channels_last)` and the same for the input switch both. The outputs are the same
# numbers, up to the order of additions.

# %%
d2lite.seed_everything(0)
cnn = d2lite.models.LeNet().to(device).eval()
images = X_test[:512].to(device)
cnn_last = copy.deepcopy(cnn).to(memory_format=torch.channels_last)   # same weights
images_last = images.to(memory_format=torch.channels_last)
with torch.no_grad():
    first, last = cnn(images), cnn_last(images_last)
    print("strides:", images.stride(), "->", images_last.stride())
    for name, model, X in (("channels first", cnn, images),
                           ("channels last", cnn_last, images_last)):
        seconds = timeit(model, X, device=device)
        print(f"{name:15s}: {seconds * 1e3:6.2f} ms per batch of 512")
torch.testing.assert_close(last, first, rtol=1e-4, atol=1e-4)

# %% [markdown]
# The gain, if any, is large only for wide convolutions on a GPU with 16-bit tensor cores; on a
# CPU, and for a net as small as this one, the layout can just as well be slower. Measure it on
# yours.
#
# ## `torch.compile`
#
# In eager mode, PyTorch runs one operation at a time, each reading its inputs from memory and
# writing its output back. `torch.compile(model)` traces the Python code into a graph once and
# hands it to a **backend**. The default backend, Inductor, fuses chains of element-wise
# operations into one generated kernel (C++ on the CPU, Triton on NVIDIA GPUs), which saves
# memory traffic and Python overhead. The price is compile time: the first call generates
# and compiles that code, it is paid again whenever the input shapes change, and it is
# repaid only over runs long enough to save more than it cost. Time it on your machine.
#
# This lesson keeps to its one-minute budget on a CPU by compiling with the `"eager"` backend
# there: it captures the graph (so you see what `torch.compile` sees) but generates no code,
# and runs the captured operations with the ordinary eager kernels. On the CPU the timings
# below therefore measure only Dynamo, the graph capture: the first call is its tracing time,
# and the per-batch time is eager mode plus its small overhead. They say nothing about
# Inductor's fused kernels or its compile time. On a CUDA GPU the same cell uses Inductor and
# measures both. Either way the compiled model must compute the same function.

# %%
mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.GELU(), nn.Linear(256, 10))
mlp = mlp.to(device).eval()
backend = "inductor" if device.type == "cuda" else "eager"
compiled = torch.compile(mlp, backend=backend)
X = X_test[:1024].to(device)
with torch.no_grad():
    began = time.perf_counter()
    out = compiled(X)                          # the first call traces (and compiles)
    print(f"backend {backend}: first call {time.perf_counter() - began:.1f} s")
    torch.testing.assert_close(out, mlp(X), rtol=1e-4, atol=1e-4)
    for name, model in (("eager mode", mlp), ("compiled", compiled)):
        seconds = timeit(model, X, device=device)
        print(f"{name:10s}: {seconds * 1e3:6.2f} ms per batch")

# %% [markdown]
# Where it does not work (yet): code whose control flow depends on tensor *values* (an `if`
# on `x.sum() > 0`) causes **graph breaks** (图中断), splitting the graph and losing some of the
# benefit; `torch._dynamo.explain(model)(X)` lists them. Compilation needs a C++ compiler on
# the CPU and Triton on the GPU; on Windows and on Apple's MPS support is partial. Models that
# change shapes every batch (variable-length text without padding) recompile repeatedly; pass
# `dynamic=True` or pad to a few fixed lengths.
#
# ## Several GPUs: DistributedDataParallel
#
# With $k$ GPUs, the simplest speed-up is **data parallelism** (数据并行): $k$ copies of the
# model, one per GPU, each taking a different part of every batch. After each backward pass the
# copies average their gradients (an *all-reduce*), so all copies take the same step and stay
# identical. With per-GPU batches of $b$, one step then computes exactly the gradient of a
# global batch of $kb$ examples, so training gives the same model as one process with batch
# $kb$, only faster. One exception: batch normalisation, whose statistics each copy computes
# on its own $b$ examples, unless the model uses `nn.SyncBatchNorm`, which shares them.
# [Figure 1](#fig-gpus_and_performance-ddp) draws one step with the two processes of the run
# below.

# %% tags=["remove-input"] mystnb={"figure": {"caption": "One step of data-parallel training with two processes. Each holds a copy of the model and takes its own share of the global batch; the gradients (red) are averaged across processes by an all-reduce, so both copies take the same step and stay identical.", "name": "fig-gpus_and_performance-ddp"}}
d2lite.diagrams.data_parallel(num_processes=2, batch_size=64)

# %% [markdown]
# PyTorch's `DistributedDataParallel` (DDP) does this with one *process* per GPU, started by
# `torchrun`. `d2lite.fit` notices when it runs under `torchrun`: it joins the process group,
# wraps the model in DDP, gives each process its share of the batches, and lets only process 0
# print, plot and save. The same script therefore runs three ways:
#
# ```bash
# python train.py                                   # one process
# torchrun --standalone --nproc_per_node=4 train.py # 4 GPUs on this machine
# torchrun --nnodes=2 --nproc_per_node=8 --node_rank=0 \
#     --rdzv_endpoint=host0:29500 train.py          # 2 machines x 8 GPUs (node_rank=1 on host1)
# ```
#
# On GPUs the processes talk through NCCL, NVIDIA's library for collective operations over
# NVLink and InfiniBand; on CPUs through gloo. You can try it without any GPU: the cell below
# writes a small training script and runs it with `torchrun` as 2 CPU processes over gloo.

# %%
SCRIPT = """
import os, sys, torch
from torch import nn
import d2lite

d2lite.seed_everything(0)
X = torch.randn(1024, 20)                                     # (1024, 20)
y = (X[:, :5].sum(dim=1) > 0).long()                          # (1024,)
net = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 2))
batch_size = int(sys.argv[2])                                 # per process
data = d2lite.data.batches(X, y, batch_size, seed=0)
history = d2lite.fit(net, data, loss_fn=nn.CrossEntropyLoss(), epochs=3, device="cpu",
                     optimizer=torch.optim.SGD(net.parameters(), lr=0.5),
                     checkpoint=sys.argv[1])
if os.environ.get("RANK", "0") == "0":      # torchrun numbers the processes; 0 reports
    print("final training loss", round(history["train_loss"][-1], 4))
"""
folder = Path(tempfile.mkdtemp())
_ = (folder / "train.py").write_text(SCRIPT)  # (returns the characters written)

# %% [markdown]
# Two processes with batches of 64 each take the same steps as one process with batches of
# 128: `fit` deals the seeded batches of 64 out in turn (process 0 takes the 1st, 3rd, ...;
# process 1 the 2nd, 4th, ...), so each step averages the gradients of two consecutive batches
# of 64, which together are the batch of 128 a single process would draw. Run both and compare
# the saved weights.

# %%
env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
runs = {
    "2 processes x 64": [sys.executable, "-m", "torch.distributed.run", "--standalone",
                         "--nproc_per_node=2", "train.py", "ddp.pt", "64"],
    "1 process x 128": [sys.executable, "train.py", "single.pt", "128"],
}
for name, command in runs.items():
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    print(f"{name}: {done.stdout.strip()}")

# %%
def trained(checkpoint):
    """The weights a run saved, loaded into a fresh copy of its network."""
    net = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 2))
    d2lite.load_checkpoint(folder / checkpoint, net)
    return net.state_dict()


ddp, single = trained("ddp.pt"), trained("single.pt")
for name in single:
    torch.testing.assert_close(ddp[name], single[name], rtol=1e-5, atol=1e-6)
print("the same weights:", list(single))

# %% [markdown]
# The two runs end with the same weights (up to float32 rounding in the order of additions).
# Only the speed differs: on $k$ GPUs each process computes $1/k$ of every global batch. Two
# things change when you scale up. The global batch grows with $k$, so the learning rate
# usually has to grow with it (often linearly, with a warm-up). And every step now waits for
# the slowest process and for the all-reduce, so very small models gain little: the
# communication costs as much as the computation it saves.
#
# ## What a GPU changed for this book
#
# Every measurement above ran on whatever machine ran this lesson; where that is a CPU, the GPU
# side is missing. The book's own GPU run fills it in: every lesson was run as a script on one
# GPU (`tools/run_scripts.py`, whose times are in `notebooks/timings-gpu.csv`), and
# `notebooks/timings.csv` holds the times of the stored CPU outputs. The cell below reads both
# from the repository (from the checkout when there is one, else from GitHub) and puts them
# side by side, each labelled with the device that produced it.

# %%
RAW = "https://raw.githubusercontent.com/d2lite/d2lite/main/notebooks/"


def measured(name):
    """{lesson: (seconds, device)} from one of the book's timing files."""
    local = Path("..") / name  # this notebook's folder is notebooks/<chapter>/
    text = (local.read_text() if local.exists()
            else urllib.request.urlopen(RAW + name, timeout=30).read().decode())
    return {r["notebook"]: (float(r["seconds"]), r["device"])
            for r in csv.DictReader(io.StringIO(text))}


cpu_times, gpu_times = measured("timings.csv"), measured("timings-gpu.csv")
this = "08_appendix/gpus_and_performance.ipynb"  # more work on a GPU: see below
both = sorted((k for k in gpu_times if k in cpu_times and k != this),
              key=lambda k: -cpu_times[k][0])
gpu_device = {device for _, device in gpu_times.values()}
print(f"{len(both)} lessons timed on both; GPU run on {', '.join(sorted(gpu_device))}")

# %%
print(f"{'lesson':42} {'CPU s':>6} {'GPU s':>6}")
for k in both[:6] + ["..."] + both[-4:]:
    print("..." if k == "..." else
          f"{k:42} {cpu_times[k][0]:6.1f} {gpu_times[k][0]:6.1f}")
ratios = [gpu_times[k][0] / cpu_times[k][0] for k in both[:5]]  # the five heaviest
print("GPU time / CPU time, five heaviest:", [round(r, 2) for r in ratios])
assert statistics.median(ratios) < 1, f"the heavy lessons were not faster: {ratios}"
lighter = [k for k in both if cpu_times[k][0] < 10]
slower_on_gpu = [k for k in lighter if gpu_times[k][0] > cpu_times[k][0]]
print(f"lessons under 10 s on the CPU: {len(lighter)}, "
      f"of which {len(slower_on_gpu)} took longer on the GPU")
assert len(slower_on_gpu) > len(lighter) / 2, "most light ones should be slower there"

# %% tags=["remove-input"] mystnb={"figure": {"caption": "Each lesson's run time on the book's two machines: the 2-core CPU that stored the outputs (x) and one GPU (y), log scales; under the diagonal the GPU was faster.", "name": "fig-gpus_and_performance-lessons"}}
fig, ax = plt.subplots(figsize=(4.5, 4))
xs, ys = [cpu_times[k][0] for k in both], [gpu_times[k][0] for k in both]
ax.scatter(xs, ys, s=14)
ax.plot([2, 100], [2, 100], "k--", lw=0.8)
ax.set(xscale="log", yscale="log", xlabel="seconds on the 2-core CPU",
       ylabel=f"seconds on {sorted(gpu_device)[0].removeprefix('cuda:')}")
plt.show()

# %% [markdown]
# Read it with the timing rules in mind (this lesson is left out: on a GPU it does more work,
# a float16 run and an Inductor compilation that the CPU run skips). These are whole lessons,
# start to finish: starting Python, importing torch, initialising CUDA, loading data, and many
# small tensors whose kernel launches cost more than their arithmetic. And the GPU run shared
# its card among several lessons at a time (the README says how it was run), so each was
# slowed by its neighbours. Even so, of the five lessons that take longest on the CPU, most
# ran faster on the GPU (the median of their GPU-to-CPU time ratios is below 1; the CPU times
# move with every run, so the check asks no more), while most lessons under ten seconds took
# longer there: a GPU pays off when there is enough work per kernel, which is the lesson of
# the matrix products at the start. The benchmarks in `benchmarks/` time single tasks more
# carefully, on both kinds of device; their README records the GPU figures.
#
# ## Summary
#
# - Tensors and models live on a device; `d2lite.try_gpu()` makes code run unchanged on a CPU
#   or a GPU. Move data once, and move small representations.
# - Time with warm-up, synchronisation and the median of repeats; never trust one run.
# - Mixed precision (bfloat16, or float16 with loss scaling) trains to the same result with
#   half the memory traffic; whether it is faster depends on the hardware.
# - Channels-last layouts and `torch.compile` change how the work is done, not what is
#   computed: check outputs match, then measure.
# - DistributedDataParallel with $k$ processes equals one process on a $k$ times larger batch
#   (with batch normalisation, only under `nn.SyncBatchNorm`); `torchrun` starts it on one
#   machine or many.

# %% [markdown]
# ## Exercises
#
# 1. bfloat16 keeps 8 bits of precision (7 stored, one implied). What is the smallest power of
#    two $\varepsilon$ for which $1 + \varepsilon \ne 1$ in bfloat16? Find it by trying, and
#    compare with float16 and float32.

# %% tags=["hide-cell"]
def machine_epsilon(dtype):
    eps = torch.tensor(1.0, dtype=dtype)
    while (torch.tensor(1.0, dtype=dtype) + eps / 2) != 1:
        eps = eps / 2
    return eps.item()


dtypes = (torch.bfloat16, torch.float16, torch.float32)
eps = {str(d): machine_epsilon(d) for d in dtypes}
print(eps)
assert eps["torch.bfloat16"] == 2**-7 and eps["torch.float16"] == 2**-10
assert eps["torch.float32"] == 2**-23

# %% [markdown]
# 2. Why does float16 need loss scaling? Take gradients of size $10^{-8}$: what do they become
#    in float16, and in float16 after scaling the loss (and so the gradients) by $2^{16}$?

# %% tags=["hide-cell"]
tiny = torch.full((4,), 1e-8)
recovered = (tiny * 2**16).half().float() / 2**16   # scale, store in fp16, unscale
print("fp16:", tiny.half(), "| scaled, then back:", recovered)
assert (tiny.half() == 0).all(), "1e-8 should underflow to 0 in float16"
assert torch.allclose(recovered, tiny, rtol=1e-2), "scaling should keep the gradients"

# %% [markdown]
# 3. Run the DDP script with 4 processes and batches of 32. Which single-process run should
#    it equal? Check it. (Expect it to be *slower* than one process on this tiny model.)
# 4. Use `timeit` to find the matrix size at which your device reaches half of its best
#    GFLOP/s in the matrix-product cell.
