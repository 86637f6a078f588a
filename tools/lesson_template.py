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
# # Title
#
# Two to four sentences on what the reader will learn.

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
