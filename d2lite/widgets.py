"""Three teaching widgets (learning rate, activation, attention), each an `Explorer`
(d2lite.explorer): a live ipywidgets form in a kernel, else a kernel-free frame slider.
Text is at least 9 pt: 9 CSS pixels at the figure's size.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from d2lite.explorer import Explorer

__all__ = ["activation_explorer", "attention_explorer", "lr_explorer"]

_REDS = matplotlib.colormaps["Reds"].resampled(16)  # few colours survive the PNG palette exactly


# ----------------------------------------------------------------------------- learning rate
def _descend(loss: Callable, w0: Sequence[float], lr: float, steps: int) -> tuple:
    """Gradient descent from w0; stops early once the loss is not finite or a million-fold."""
    w = torch.tensor(list(w0), dtype=torch.get_default_dtype(), requires_grad=True)
    path, losses = [], []
    for step in range(steps + 1):
        value = loss(w)
        if not torch.is_tensor(value) or value.numel() != 1:
            got = tuple(value.shape) if torch.is_tensor(value) else type(value).__name__
            raise ValueError(f"lr_explorer(): loss(w) returned {got}; expected a scalar tensor, "
                             "e.g. ((X @ w - y) ** 2).mean() for w of shape (2,)")
        path.append(w.detach().cpu().numpy().copy())
        losses.append(float(value.detach()))
        if step == steps or not abs(losses[-1]) <= 1e6 * (abs(losses[0]) + 1e-12):  # nan too
            break
        (grad,) = torch.autograd.grad(value.reshape(()), w)
        with torch.no_grad():
            w -= lr * grad
    return np.array(path), np.array(losses)


def _curvature(loss: Callable, points: np.ndarray) -> float:
    """Largest |eigenvalue| of the Hessian of `loss` over `points` (n, 2): a local estimate of L."""
    hessians = [torch.autograd.functional.hessian(
        lambda w: loss(w).reshape(()), torch.tensor(p, dtype=torch.get_default_dtype()))
        for p in points]
    return max(float(torch.linalg.eigvalsh(0.5 * (h + h.T)).abs().max()) for h in hessians)


def lr_explorer(loss: Callable[[torch.Tensor], torch.Tensor] | None = None, *,
                A: Sequence[Sequence[float]] = ((1.0, 0.0), (0.0, 5.0)),
                w0: Sequence[float] = (-3.0, 1.5), lambda_max: float | None = None,
                lr: float | None = None, steps: int = 30, mode: str | None = None) -> Explorer:
    """Gradient descent on a 2-D loss: path on the contours, loss curve, and the bound 2/λ_max.

    Args:
        loss: a lesson's own loss, `loss(w) -> scalar tensor` for `w` of shape (2,); by default
            the quadratic 0.5 w^T A w.
        A: (2, 2) symmetric matrix of the default quadratic; λ_max is its largest eigenvalue.
        w0: starting point (2,).
        lambda_max: the largest eigenvalue of the Hessian; when `loss` is given without it,
            estimated from Hessians along a reference run (local for non-quadratic losses).
        lr, steps: starting slider values (lr defaults to 1/λ_max, half the bound 2/λ_max).
        mode: "live" or "static"; default from $D2LITE_WIDGETS, else live inside a kernel.
    `update(lr=..., steps=...)` returns {"lr", "bound" (2/λ_max), "lambda_max", "path" (n, 2),
    "loss" (n,), "diverged"}; n <= steps + 1 (a diverging run stops at a million-fold loss).

    Example:
        >>> data = lr_explorer(mode="static").update(lr=0.45)   # past 2/λ_max = 0.4
        >>> bool(data["loss"][-1] > data["loss"][0])
        True
    """
    if loss is None:
        A_t = torch.tensor(A, dtype=torch.get_default_dtype())
        if A_t.shape != (2, 2) or not torch.allclose(A_t, A_t.T):
            raise ValueError(f"lr_explorer(): got A of shape {tuple(A_t.shape)}; expected a "
                             "symmetric (2, 2) matrix such as ((1, 0), (0, 5))")
        loss = lambda w: 0.5 * w @ A_t @ w
        if lambda_max is None:
            lambda_max = float(torch.linalg.eigvalsh(A_t).abs().max())
    if lambda_max is None:
        L0 = _curvature(loss, np.array([w0]))
        probe = _descend(loss, w0, 1.0 / L0, 200)[0] if L0 > 0 and math.isfinite(L0) else []
        lambda_max = max(L0, _curvature(loss, probe[::10])) if len(probe) else L0
    if not (lambda_max > 0 and math.isfinite(lambda_max)):
        raise ValueError(f"lr_explorer(): the curvature lambda_max is {lambda_max}; expected a "
                         "positive number; pass lambda_max= (the Hessian's largest eigenvalue)")
    bound = 2.0 / lambda_max
    lrs = sorted({round(bound * r, 12) for r in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8,
                                                 0.9, 1.0, 1.05, 1.1, 1.2)})
    lr = bound / 2 if lr is None else lr
    ref = _descend(loss, w0, bound / 2, 200)[0]  # a converging run: the view centres on its end
    half = 1.2 * max(float(np.abs(ref - ref[-1]).max()), 1e-3)
    lo, hi = ref[-1] - half, ref[-1] + half
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 41), np.linspace(lo[1], hi[1], 41))
    points = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.get_default_dtype())
    with torch.no_grad():
        Z = np.array([float(loss(p)) for p in points]).reshape(gx.shape)  # (41, 41)
    levels = np.unique(np.quantile(Z, np.linspace(0.01, 0.97, 12)))

    def draw(fig: Figure, lr: float, steps: int) -> dict:
        if not (lr > 0 and isinstance(steps, (int, np.integer)) and steps >= 1):
            raise ValueError(f"lr_explorer.update(): got lr={lr!r}, steps={steps!r}; expected "
                             "lr > 0 and an int steps >= 1")
        path, losses = _descend(loss, w0, lr, steps)
        grid = fig.add_gridspec(2, 2, height_ratios=(8, 1), hspace=0.55, wspace=0.3,
                                top=0.86, bottom=0.12)
        ax = fig.add_subplot(grid[0, 0])
        ax.contour(gx, gy, Z, levels=levels, cmap="viridis", linewidths=0.8)
        shown = np.clip(path, lo - 4 * half, hi + 4 * half)  # far-away points only slow Agg down
        ax.plot(shown[:, 0], shown[:, 1], "o-", color="tab:red", ms=3, lw=1)
        ax.plot(*path[0], "ks", ms=5)
        ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel="$w_1$", ylabel="$w_2$",
               title="path from the black square")
        ax2 = fig.add_subplot(grid[0, 1])
        ax2.plot(np.arange(len(losses)), losses, "o-", color="tab:red", ms=2, lw=1)
        if losses.min() > 0:
            ax2.set_yscale("log")
        ax2.set(xlim=(0, steps), xlabel="step", ylabel="loss", title="loss")
        ax3, right = fig.add_subplot(grid[1, :]), max(lrs[-1], lr) * 1.02
        ax3.axvspan(bound, right, color="tab:red", alpha=0.15)
        ax3.axvline(bound, color="tab:red", ls="--", lw=1)
        ax3.plot([lr], [0.5], "v", color="k", ms=8)
        ax3.text(bound, 1.15, r"$2/\lambda_{\max}$", color="tab:red", ha="center", fontsize=9)
        ax3.set(xlim=(0, right), ylim=(0, 1), yticks=[],
                xlabel="learning rate (shaded: past the stability bound $2/\\lambda_{\\max}$)")
        diverged = len(losses) < steps + 1 or losses[-1] > losses[0]
        fig.suptitle(f"lr = {lr:.3g} = {lr / bound:.2f} × $2/\\lambda_{{\\max}}$:   loss "
                     f"{losses[0]:.3g} → {losses[-1]:.3g}", fontsize=10,
                     color="tab:red" if diverged else "k")
        return {"lr": lr, "bound": bound, "lambda_max": lambda_max, "path": path, "loss": losses,
                "diverged": bool(diverged)}

    return Explorer("lr_explorer", draw, {"lr": lr, "steps": steps},
                    {"lr": sorted(set(lrs) | {lr}),
                     "steps": sorted({5, 10, 20, 30, 50, 100, steps})}, {"lr": lrs},
                    describe=lambda name, value: f"{value:.3g} ({value / bound:.2f} × 2/λₘₐₓ)"
                    if name == "lr" else str(value), figsize=(8, 3.8), mode=mode)


# ----------------------------------------------------------------------------- activations
_ACTIVATION_LAYERS = {  # key: (label, constructor)
    "relu": ("ReLU", nn.ReLU), "leaky_relu": ("leaky ReLU", lambda: nn.LeakyReLU(0.1)),
    "sigmoid": ("sigmoid", nn.Sigmoid), "tanh": ("tanh", nn.Tanh), "gelu": ("GELU", nn.GELU)}


def _activation_key(name: object) -> str:
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    if key not in _ACTIVATION_LAYERS:
        raise ValueError(f"activation_explorer(): got activation={name!r}; expected one of "
                         f"{list(_ACTIVATION_LAYERS)}")
    return key


def _toy_data(task: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A 1-D curve (x: (64, 1), y: (64,)) or two moons (X: (200, 2), y: (200,) in {0, 1})."""
    rng = np.random.default_rng(seed)
    if task == "curve":
        X = np.linspace(-3, 3, 64)[:, None]
        y = np.sin(2 * X[:, 0]) + 0.3 * X[:, 0] + 0.1 * rng.standard_normal(64)
    else:
        t, y = rng.uniform(0, np.pi, 200), np.arange(200) % 2
        X = np.stack([np.cos(t) - y, (1 - 2 * y) * np.sin(t) + 0.5 * y - 0.25], axis=1)
        X = X + 0.15 * rng.standard_normal(X.shape)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def _fit_mlp(key: str, width: int, X: torch.Tensor, y: torch.Tensor, classify: bool,
             steps: int, seed: int) -> tuple[nn.Module, float]:
    """Train a 2-hidden-layer MLP full-batch with Adam; returns the net and its final loss."""
    make = _ACTIVATION_LAYERS[key][1]
    with torch.random.fork_rng(devices=[]):  # seeded init that leaves the caller's RNG alone
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(X.shape[1], width), make(), nn.Linear(width, width), make(),
                            nn.Linear(width, 1))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
    loss_fn = nn.BCEWithLogitsLoss() if classify else nn.MSELoss()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: more threads only wait, 10x slower on a busy CPU
    try:
        for _ in range(steps):
            loss = loss_fn(net(X).squeeze(-1), y)  # (n, 1) -> (n,)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return net.eval(), float(loss_fn(net(X).squeeze(-1), y).detach())


def activation_explorer(*, activation: str = "relu", width: int = 16,
                        widths: Sequence[int] = (4, 16, 64), task: str = "curve",
                        steps: int = 300, seed: int = 0, mode: str | None = None) -> Explorer:
    """An activation, its derivative, and a small MLP using it to fit a curve or a boundary.

    Args:
        activation: one of "relu", "leaky_relu", "sigmoid", "tanh", "gelu" (or their labels).
        width: hidden width of the two hidden layers; `widths` are the slider's choices.
        task: "curve" (regress 64 noisy points of sin(2x) + 0.3x) or "boundary" (classify two
            moons, 200 points in 2-D).
        steps, seed: full-batch Adam steps per fit (about 0.1-0.3 s on a CPU) and the seed.
        mode: "live" or "static"; default from $D2LITE_WIDGETS, else live inside a kernel.
    `update(activation=..., width=...)` returns {"x", "f", "df" (200,) (the activation and its
    derivative), "X_train" (n, 1 or 2), "y_train" (n,), "loss"} plus "x_fit", "fit" (200,) for
    a curve, or "grid_x", "grid_y", "prob" (60, 60) and "accuracy" for a boundary. Fits are
    cached, so revisiting a setting is instant.

    Example:
        >>> w = activation_explorer(mode="static")
        >>> relu, tanh = w.update(activation="relu")["fit"], w.update(activation="tanh")["fit"]
        >>> bool(abs(relu - tanh).max() > 0)
        True
    """
    if task not in ("curve", "boundary"):
        raise ValueError(f"activation_explorer(): got task={task!r}; expected 'curve' or "
                         "'boundary'")
    widths = sorted({int(w) for w in widths} | {int(width)})
    X, y = _toy_data(task, seed)
    xs = torch.linspace(-4, 4, 200)
    gx, gy = np.meshgrid(np.linspace(-2.5, 1.5, 60), np.linspace(-1.5, 1.5, 60))
    fits: dict[tuple[str, int], tuple[nn.Module, float]] = {}

    def draw(fig: Figure, activation: str, width: int) -> dict:
        key = _activation_key(activation)
        if not (isinstance(width, (int, np.integer)) and width >= 1):
            raise ValueError(f"activation_explorer.update(): got width={width!r}; expected an "
                             "int >= 1")
        if (key, width) not in fits:
            fits[key, width] = _fit_mlp(key, width, X, y, task == "boundary", steps, seed)
        net, loss = fits[key, width]
        x = xs.clone().requires_grad_(True)
        f = _ACTIVATION_LAYERS[key][1]()(x)
        (df,) = torch.autograd.grad(f.sum(), x)
        data = {"x": xs.numpy(), "f": f.detach().numpy(), "df": df.numpy(),
                "X_train": X.numpy(), "y_train": y.numpy(), "loss": loss}
        ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": (2, 3)})
        ax.plot(data["x"], data["f"], label="f(x)")
        ax.plot(data["x"], data["df"], "--", label="f'(x)")
        ax.set(xlabel="x", ylabel="value", title=_ACTIVATION_LAYERS[key][0], ylim=(-1.5, 4))
        ax.legend(fontsize=9)
        with torch.no_grad():
            if task == "curve":
                data["x_fit"] = xs.numpy() * 0.85  # (200,): the data's range and a bit more
                data["fit"] = net(xs[:, None] * 0.85).squeeze(-1).numpy()  # (200, 1) -> (200,)
                ax2.plot(data["X_train"][:, 0], data["y_train"], ".", color="gray", label="data")
                ax2.plot(data["x_fit"], data["fit"], color="tab:red", label="MLP")
                ax2.set(xlabel="x", ylabel="y", ylim=(-2.2, 2.2))
            else:
                pts = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
                data["grid_x"], data["grid_y"] = gx, gy
                data["prob"] = torch.sigmoid(net(pts)).reshape(gx.shape).numpy()  # (60, 60)
                data["accuracy"] = float(((net(X).squeeze(-1) > 0).float() == y).float().mean())
                ax2.contourf(gx, gy, data["prob"], levels=np.linspace(0, 1, 11), cmap="RdBu_r",
                             alpha=0.35)
                ax2.contour(gx, gy, data["prob"], levels=[0.5], colors="k", linewidths=1)
                ax2.scatter(*data["X_train"].T, s=10, edgecolors="w", linewidths=0.3,
                            c=np.where(data["y_train"] > 0, "tab:red", "tab:blue"))
                ax2.set(xlabel="$x_1$", ylabel="$x_2$")
        ax2.set_title(f"MLP, 2 hidden layers of width {width}: loss {loss:.3f}")
        if task == "curve":
            ax2.legend(fontsize=9, loc="upper left")
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.88, wspace=0.3)
        return data

    options = {"activation": list(_ACTIVATION_LAYERS), "width": widths}
    return Explorer("activation_explorer", draw,
                    {"activation": _activation_key(activation), "width": int(width)}, options,
                    options, describe=lambda name, value: _ACTIVATION_LAYERS[value][0]
                    if name == "activation" else str(value), figsize=(8, 3.2), mode=mode)


# ----------------------------------------------------------------------------- attention
def _weights_5d(weights: object, num_heads: int | None) -> np.ndarray:
    """Attention weights in any accepted layout as a numpy array (layers, batch, heads, q, k)."""
    if isinstance(weights, (list, tuple)) and len(weights) and np.ndim(weights[0]) >= 2:
        layers = [_weights_5d(w, num_heads) for w in weights]  # each (1, batch, heads, q, k)
        if len({a.shape for a in layers}) > 1:
            raise ValueError("attention_explorer(): the layers' weights have different shapes "
                             f"{[a.shape[1:] for a in layers]}; expected one (batch, heads, q, k)")
        return np.concatenate(layers)
    a = weights.detach().float().cpu().numpy() if torch.is_tensor(weights) else \
        np.asarray(weights, dtype=float)
    if a.ndim == 3 and num_heads:
        if a.shape[0] % num_heads:
            raise ValueError(f"attention_explorer(): got weights of shape {a.shape} with "
                             f"num_heads={num_heads}; expected (batch * num_heads, q, k)")
        a = a.reshape(-1, num_heads, *a.shape[1:])  # (batch, heads, q, k)
    elif a.ndim in (2, 3):
        a = a[None, None] if a.ndim == 2 else a[:, None]  # (batch, 1, q, k)
    if a.ndim == 4:
        a = a[None]  # (1, batch, heads, q, k)
    if a.ndim != 5:
        raise ValueError(f"attention_explorer(): got weights of shape {a.shape}; expected (q, k), "
                         "(batch, q, k), (batch, heads, q, k), (layers, batch, heads, q, k) or "
                         "a list over layers")
    return a


def _labels(tokens: object, batch: int, size: int, what: str) -> list[list[str]]:
    """Token labels per example: None numbers them; one list for all, or one list per example."""
    if tokens is None:
        return [[str(i) for i in range(size)]] * batch
    tokens = list(tokens)
    per_example = bool(tokens) and not isinstance(tokens[0], str)
    lists = [list(map(str, t)) for t in tokens] if per_example else [list(map(str, tokens))] * batch
    if len(lists) != batch or any(len(t) > size or (not per_example and len(t) != size)
                                  for t in lists):
        raise ValueError(f"attention_explorer(): got {what} labels of lengths "
                         f"{[len(t) for t in lists]} for {batch} example(s) of {size} {what}; "
                         "pass one list for all examples, or one list per example (padding may "
                         "be left out)")
    return lists


def attention_explorer(weights: object, queries: Sequence | None = None,
                       keys: Sequence | None = None, *, layer: int = 0, head: int = 0,
                       example: int = 0, num_heads: int | None = None, max_frames: int = 16,
                       mode: str | None = None) -> Explorer:
    """Attention heatmaps with token labels; choose the layer, head and example.

    Args:
        weights: attention weights, each row summing to 1, as a tensor or array of shape
            (q, k), (batch, q, k) (`nn.MultiheadAttention` with `average_attn_weights=True`),
            (batch, heads, q, k) (with `average_attn_weights=False`) or (layers, batch,
            heads, q, k); or a list over layers of any of the first three.
        queries, keys: token labels: one list for every example, or one list per example (a
            shorter list crops the padding); None numbers the positions.
        layer, head, example: the starting choice.
        num_heads: read a 3-D `weights` as (batch * num_heads, q, k), the layout of
            from-scratch multi-head attention (and of unbatched (heads, q, k) weights).
        max_frames: the kernel-free form steps through heads, then layers, then examples, as
            long as the number of frames stays at most this.
        mode: "live" or "static"; default from $D2LITE_WIDGETS, else live inside a kernel.
    `update(layer=..., head=..., example=...)` returns {"weights": (q, k) array, "queries",
    "keys" (label lists), "layer", "head", "example"}.

    Example:
        >>> mha = nn.MultiheadAttention(8, 2, batch_first=True)
        >>> X = torch.randn(1, 3, 8)
        >>> _, W = mha(X, X, X, need_weights=True, average_attn_weights=False)  # (1, 2, 3, 3)
        >>> w = attention_explorer(W, ["a", "b", "c"], ["a", "b", "c"], mode="static")
        >>> w.update(head=1)["weights"].shape
        (3, 3)
    """
    A = _weights_5d(weights, num_heads)  # (layers, batch, heads, q, k)
    n_layers, batch, heads, nq, nk = A.shape
    q_labels = _labels(queries, batch, nq, "queries")
    k_labels = _labels(keys, batch, nk, "keys")
    vmax = float(A.max()) if A.size and A.max() > 0 else 1.0

    def draw(fig: Figure, layer: int, head: int, example: int) -> dict:
        for name, value, size in (("layer", layer, n_layers), ("head", head, heads),
                                  ("example", example, batch)):
            if not (isinstance(value, (int, np.integer)) and 0 <= value < size):
                raise ValueError(f"attention_explorer.update(): got {name}={value!r}; expected "
                                 f"an int in [0, {size})")
        ql, kl = q_labels[example], k_labels[example]
        w = A[layer, example, head, :len(ql), :len(kl)]  # (q, k) without padding
        ax = fig.add_subplot()
        image = ax.imshow(w, cmap=_REDS, vmin=0, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(kl)), kl, rotation=60 if max(map(len, kl), default=0) > 2 else 0,
                      fontsize=9)
        ax.set_yticks(range(len(ql)), ql, fontsize=9)
        ax.set(xlabel="keys", ylabel="queries",
               title=f"layer {layer}, head {head}, example {example}")
        fig.colorbar(image, ax=ax, fraction=0.05, label="attention weight")
        fig.tight_layout()
        return {"weights": w.copy(), "queries": ql, "keys": kl, "layer": int(layer),
                "head": int(head), "example": int(example)}

    sizes = {"layer": n_layers, "head": heads, "example": batch}
    chosen, frames = set(), 1
    for name in ("head", "layer", "example"):  # heads first: they are what lessons compare
        if sizes[name] > 1 and frames * sizes[name] <= max_frames:
            chosen, frames = chosen | {name}, frames * sizes[name]
    grid = {n: list(range(s)) for n, s in sizes.items() if n in chosen} or {"head": [head]}
    options = {n: list(range(s)) for n, s in sizes.items() if s > 1}
    return Explorer("attention_explorer", draw, {"layer": layer, "head": head, "example": example},
                    options, grid, describe=lambda name, value: str(value),
                    figsize=(min(3 + 0.3 * nk, 9), min(2.5 + 0.25 * nq, 7)), mode=mode)
