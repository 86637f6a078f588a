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
# # How sure is a sample mean?
#
# This is the lesson template: copy it to `notebooks/<chapter>/<name>.py`, keep its shape and
# replace its content. In this small lesson you measure how far the mean of $n$ random draws
# lands from the true mean, and you check that the error shrinks like $1/\sqrt{n}$.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite

# %% [markdown]
# ## The error of a mean
#
# Say why before how: a training loss averaged over a minibatch is a sample mean, so its noise
# tells you how much one batch can mislead you. The next cell draws 200 samples of $n$ standard
# normal numbers for each $n$ and records the typical distance of their mean from 0, the true
# mean. Seeding first makes every run print the same numbers. These draws are the experiment,
# so they come from `d2lite.seed_everything`, which the book's variation sweep shifts to other
# seeds: the check must hold for any of them. Data that must be the same on every machine (a
# synthetic sample the prose quotes, a split) comes from `torch.Generator().manual_seed(k)`.

# %%
d2lite.seed_everything(0)
sizes = [10, 100, 1000, 10000]
errors = [torch.randn(200, n).mean(dim=1).abs().mean().item() for n in sizes]
for n, error in zip(sizes, errors):
    print(f"n = {n:>5}: typical error {error:.4f}")

# %% [markdown]
# A hundred times more draws should make the error ten times smaller. Every number the prose
# states is checked by an `assert` right after the experiment, with a message that says what
# failed, so the claim is tested each time the book is built.

# %%
ratio = errors[0] / errors[2]
assert 7 < ratio < 14, f"100x more draws shrank the error {ratio:.1f}x, not about 10x"
d2lite.record("ratio", ratio)  # the sweep's table keeps it for every variant

# %% [markdown]
# ## Summary
#
# - The mean of $n$ independent draws misses the true mean by about $\sigma/\sqrt{n}$.
# - A hundred times more data buys one more correct digit.

# %% [markdown]
# ## Exercises
#
# 1. The standard deviation of the mean of $n$ standard normal draws is exactly $1/\sqrt{n}$.
#    Measure it for $n = 400$ and compare.

# %% tags=["hide-cell"]
d2lite.seed_everything(1)
spread = torch.randn(5000, 400).mean(dim=1).std().item()
print(f"measured {spread:.4f}, predicted {1 / 400 ** 0.5:.4f}")
assert abs(spread - 0.05) < 0.003, f"spread {spread:.4f} is not close to 0.05"

# %% [markdown]
# 2. Uniform draws on $[0, 1]$ have standard deviation $1/\sqrt{12}$. How many draws does the
#    mean need before its standard deviation falls below 0.01?

# %% tags=["hide-cell"]
needed = int((1 / 12 ** 0.5 / 0.01) ** 2) + 1
spread = torch.rand(2000, needed).mean(dim=1).std().item()
print(f"{needed} draws: standard deviation of the mean {spread:.4f}")
assert spread < 0.0105, f"with {needed} draws the spread is {spread:.4f}"
