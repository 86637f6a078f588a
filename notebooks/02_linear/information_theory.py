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
# # Information theory: entropy, cross-entropy and perplexity
#
# Almost every classifier in this book is trained by minimising a *cross-entropy*, and every language
# model is judged by its *perplexity*. Both words come from information theory, the mathematics of
# sending messages efficiently. In this lesson you will measure the information in an event, learn
# why entropy is a lower bound on the average length of a code, see how cross-entropy and the
# Kullback–Leibler divergence measure the cost of believing the wrong distribution, check
# numerically that maximum likelihood is the same thing as minimum cross-entropy, and turn a
# cross-entropy into a perplexity you can read as "the number of choices the model hesitates
# between".

# %%
import importlib.util, subprocess, sys
if importlib.util.find_spec("d2lite") is None:  # on Colab: install the book's helpers
    print("Installing d2lite (the book's helpers) from github.com/d2lite/d2lite")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/d2lite/d2lite"], check=True)
import torch
import d2lite
import itertools
import math
import matplotlib.pyplot as plt
import numpy as np
import torch.nn.functional as F

# %% [markdown]
# ## Information content
#
# Suppose two pieces of news reach you before a World Cup: "Brazil has qualified" and "China has
# qualified". Brazil has qualified for every World Cup ever played; China has made it once. The
# first headline tells you almost nothing you did not expect, the second is a real surprise. The
# less likely an event, the more you learn when it happens.
#
# Information theory turns this into a number. The **[information content](../../book/glossary.md#term-information-content)** (信息量) of an
# event $x$ that has probability $p(x)$ is
#
# $$
# I(x) = -\log_b p(x).
# $$
#
# Why a logarithm? Because information from independent events should add up. Two independent
# events happen together with probability $p(x)\,p(y)$, and the logarithm turns that product into
# the sum $I(x) + I(y)$. The base $b$ sets the unit: with $b = 2$ you measure in **bits**, with the
# natural logarithm ($b = e$) in **nats**. A fair coin toss carries exactly 1 bit, and an event
# with probability $1/8$ carries 3 bits: as much as three fair coin tosses.
#
# The probabilities below are made up for the story: 0.95 for Brazil, 0.02 for China.


# %%
def information(p, base=2.0):
    """Information content -log_base(p) of an event with probability p (a tensor)."""
    return -torch.log(torch.as_tensor(p, dtype=torch.float64)) / math.log(base)


brazil, china = information(0.95), information(0.02)
print(f"Brazil qualifies: {brazil:.3f} bits    China qualifies: {china:.3f} bits")

# %% [markdown]
# The surprise costs about 5.6 bits, the expected news less than a tenth of a bit. Let's also check
# the coin, the one-in-eight event and the promise that independent events add.

# %%
assert china > 50 * brazil, (
    f"China's news ({china:.2f} bits) should dwarf Brazil's ({brazil:.3f})"
)
assert abs(china - 5.644) < 1e-3, f"China: {china:.4f} bits, expected about 5.644"
assert brazil < 0.1, f"Brazil's news carries {brazil:.3f} bits, expected under 0.1"
assert torch.isclose(information(0.5), torch.tensor(1.0, dtype=torch.float64)), (
    "a coin is 1 bit"
)
assert torch.isclose(information(1 / 8), torch.tensor(3.0, dtype=torch.float64)), (
    "1/8 is 3 bits"
)
p, q = 0.3, 0.6
assert torch.isclose(information(p * q), information(p) + information(q)), (
    "should add up"
)

# %% [markdown]
# ## Entropy
#
# A random source, such as tomorrow's weather, produces one of several outcomes. Some are surprising,
# some are not. The **[entropy](../../book/glossary.md#term-entropy)** (熵) of the source is its *average* information content,
# each outcome weighted by how often it happens:
#
# $$
# H(P) = \sum_i P(x_i)\, I(x_i) = -\sum_i P(x_i) \log P(x_i) = \mathbb{E}_{x \sim P}\left[-\log P(x)\right].
# $$
#
# An outcome with probability 0 contributes nothing: by convention $0 \log 0 = 0$, the limit of
# $p \log p$ as $p \to 0$. PyTorch's `torch.special.xlogy(x, y)`, which computes $x \log y$,
# follows the same convention, so it is the right tool here.
#
# Take a source with three outcomes $A$, $B$, $C$ of probabilities 0.7, 0.2 and 0.1. With natural
# logarithms the surprises are $-\ln 0.7 \approx 0.36$, $-\ln 0.2 \approx 1.61$ and
# $-\ln 0.1 \approx 2.30$ nats, and the entropy is
# $0.7 \times 0.36 + 0.2 \times 1.61 + 0.1 \times 2.30 \approx 0.80$ nats.


# %%
def entropy(P, base=math.e):
    """Entropy of the distribution(s) P: (..., n) -> (...); nats, or bits if base=2."""
    return -torch.special.xlogy(P, P).sum(-1) / math.log(base)


abc = torch.tensor([0.7, 0.2, 0.1], dtype=torch.float64)
print(f"H = {entropy(abc):.4f} nats = {entropy(abc, base=2):.4f} bits")

# %% [markdown]
# Computed exactly, it is 0.802 nats (rounding the three logarithms first gives 0.804). One nat is
# $1/\ln 2 \approx 1.443$ bits, so the same entropy is 1.157 bits.

# %%
assert abs(entropy(abc) - 0.802) < 5e-4, f"H = {entropy(abc):.4f} nats, expected 0.802"
categorical = torch.distributions.Categorical(
    probs=abc
)  # PyTorch's own entropy, in nats
assert abs(categorical.entropy() - entropy(abc)) < 1e-12, (
    "should agree with Categorical.entropy()"
)
assert abs(entropy(abc, 2) - 1.157) < 5e-4, (
    f"H = {entropy(abc, 2):.4f} bits, expected 1.157"
)

# %% [markdown]
# ### Entropy is a lower bound on the average code length
#
# Claude Shannon introduced entropy to answer a practical question ([Shannon, 1948](../../book/references.md)):
# how short can a code be, on average, if the receiver must recover the message exactly? His answer:
# no lossless code can use fewer bits per outcome, on average, than the entropy in bits. A code can
# reach the entropy exactly only when every probability is a power of $1/2$; otherwise you can get
# as close to it as you like by coding long blocks of outcomes at once instead of one at a time.
#
# Here is his idea at work. You report Tokyo's weather to New York every day, in binary. There are
# four kinds of weather, with these probabilities, and three candidate codes:
#
# | code | Fine (50 %) | Cloudy (25 %) | Rainy (12.5 %) | Snow (12.5 %) |
# |---|---|---|---|---|
# | 1 | `10` | `110` | `0` | `111` |
# | 2 | `0` | `110` | `10` | `111` |
# | 3 | `0` | `10` | `110` | `111` |
#
# All three are **[prefix codes](../../book/glossary.md#term-prefix-code)** (前缀码): no codeword is the beginning of
# another. That is what makes them lossless without separators: reading a stream of bits from the
# left, you know a codeword has ended the moment you have read one. The average length of a code is
# $\sum_i P(x_i)\,\ell_i$, where $\ell_i$ is the length of the codeword for outcome $i$.

# %% tags=["nbval-check-output"]
weather = ["fine", "cloudy", "rainy", "snow"]
tokyo = torch.tensor([0.5, 0.25, 0.125, 0.125], dtype=torch.float64)
codes = {
    1: ["10", "110", "0", "111"],
    2: ["0", "110", "10", "111"],
    3: ["0", "10", "110", "111"],
}


def average_length(code, P):
    """Expected bits per outcome when outcome i (probability P[i]) is sent as code[i]"""
    return sum(p * len(word) for p, word in zip(P.tolist(), code, strict=True))


def is_prefix_free(code):
    """True if no codeword is the beginning of another one."""
    return not any(a != b and b.startswith(a) for a in code for b in code)


for k, code in codes.items():
    print(
        f"code {k}: average length {average_length(code, tokyo)} bits, "
        f"prefix-free: {is_prefix_free(code)}"
    )

# %% [markdown]
# Code 1 wastes a two-bit word on the most common weather and needs 2.25 bits a day. Code 2 is
# better, 1.875 bits. Code 3, which gives the shortest words to the likeliest weather, needs only
# 1.75 bits. A plain fixed-length code (`00`, `01`, `10`, `11`) would need 2.

# %%
lengths = {k: average_length(code, tokyo) for k, code in codes.items()}
assert lengths == {1: 2.25, 2: 1.875, 3: 1.75}, f"average lengths are {lengths}"
assert all(is_prefix_free(code) for code in codes.values()), (
    "every code should be prefix-free"
)
assert average_length(["00", "01", "10", "11"], tokyo) == 2, (
    "a fixed-length code needs 2 bits"
)

# %% [markdown]
# And the entropy of Tokyo's weather, in bits:
#
# $$
# H = -(0.5 \log_2 0.5 + 0.25 \log_2 0.25 + 0.125 \log_2 0.125 + 0.125 \log_2 0.125) = 1.75.
# $$
#
# Code 3 reaches the entropy exactly, because each of its codewords is exactly $-\log_2 P(x_i)$
# bits long: the information content of the outcome it stands for.

# %%
code3_lengths = torch.tensor([len(word) for word in codes[3]], dtype=torch.float64)
assert abs(entropy(tokyo, base=2) - 1.75) < 1e-12, (
    f"H = {entropy(tokyo, 2)} bits, expected 1.75"
)
assert torch.allclose(code3_lengths, information(tokyo)), (
    "code 3's lengths should be -log2 P"
)

# %% [markdown]
# Can any prefix code beat 1.75 bits? A prefix code with codeword lengths $\ell_i$ exists exactly
# when $\sum_i 2^{-\ell_i} \le 1$ (the Kraft inequality: a codeword of length $\ell$ uses up a
# share $2^{-\ell}$ of all possible bit strings, and prefix-free words cannot share). So we can
# search every choice of lengths from 1 to 6 bits for the four kinds of weather and keep the best.

# %%
best = min(
    (average_length(["x" * n for n in ls], tokyo), ls)
    for ls in itertools.product(range(1, 7), repeat=4)
    if sum(2.0**-n for n in ls) <= 1
)  # Kraft: a prefix code with these lengths exists
print("best average length:", best[0], "bits, with codeword lengths", best[1])
assert best == (1.75, (1, 2, 3, 3)), (
    f"the best lengths are {best}, expected 1.75 with (1, 2, 3, 3)"
)

# %% [markdown]
# Nothing beats the entropy. Tokyo's weather is a lucky case, though: its probabilities are all
# powers of $1/2$, so whole-bit codewords of length $-\log_2 P(x_i)$ exist. The source
# $(0.7, 0.2, 0.1)$ from before has an entropy of 1.157 bits, but the same search finds no prefix
# code for it shorter than 1.3 bits per outcome, with codeword lengths 1, 2 and 2.

# %%
best_abc = min(
    (average_length(["x" * n for n in ls], abc), ls)
    for ls in itertools.product(range(1, 7), repeat=3)
    if sum(2.0**-n for n in ls) <= 1
)
print(f"entropy {entropy(abc, 2):.3f} bits, best prefix code {best_abc[0]:.3f} bits")
assert abs(best_abc[0] - 1.3) < 1e-12 and best_abc[1] == (1, 2, 2), (
    f"best code: {best_abc}"
)
assert best_abc[0] - entropy(abc, 2) > 0.1, (
    "one codeword per outcome stays well above H"
)

# %% [markdown]
# Back to Tokyo. To see that code 3 is really lossless, simulate 10,000 days of weather, encode
# them into one long string of bits, decode it again, and count bits per day. The average over a
# finite sample wobbles a little around the expected 1.75.

# %%
g = torch.Generator().manual_seed(0)  # the data's own generator: the same days anywhere
days = torch.multinomial(tokyo, 10_000, replacement=True, generator=g)  # (10000,)
days = days.tolist()
bits = "".join(codes[3][day] for day in days)
decoded, word = [], ""
for bit in bits:  # read from the left; a codeword ends as soon as it matches
    word += bit
    if word in codes[3]:
        decoded.append(codes[3].index(word))
        word = ""
print(
    f"{len(bits)} bits for {len(days)} days: {len(bits) / len(days):.3f} bits per day"
)
assert decoded == days, "decoding should give back every day's weather"
assert abs(len(bits) / len(days) - 1.75) < 0.03, (
    f"{len(bits) / len(days):.3f} bits per day"
)

# %% [markdown]
# ### Two outcomes: the entropy of a coin
#
# A source with two outcomes, such as a coin that lands heads with probability $p$ or a lottery
# ticket that wins or loses, has entropy
#
# $$
# H(p) = -p \log_2 p - (1 - p) \log_2 (1 - p).
# $$
#
# [Figure 1](#fig-information-theory-coin) shows it against $p$. A coin that always lands the same way ($p = 0$ or $1$) tells
# you nothing: 0 bits. The fair coin is the most uncertain, at exactly 1 bit, and the curve is
# symmetric because swapping heads and tails changes nothing. In general, $N$ equally likely
# outcomes have the largest entropy any $N$-outcome source can have, $\log_2 N$ bits (the next
# section checks this on 10,000 random distributions).

# %% mystnb={"figure": {"caption": "The entropy of a coin that lands heads with probability p: zero for a certain outcome, largest (1 bit) for the fair coin.", "name": "fig-information-theory-coin"}}
ps = torch.linspace(0, 1, 201, dtype=torch.float64)
coin_entropy = entropy(torch.stack([ps, 1 - ps], dim=1), base=2)  # (201,)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(ps, coin_entropy)
ax.set_xlabel("probability of heads $p$")
ax.set_ylabel("entropy $H(p)$ (bits)")
ax.grid(alpha=0.3)
plt.show()

# %%
assert coin_entropy[0] == 0 and coin_entropy[-1] == 0, (
    "a certain outcome has zero entropy"
)
assert coin_entropy.argmax() == 100, (
    f"the maximum is at p = {ps[coin_entropy.argmax()]:.3f}, not 0.5"
)
assert abs(coin_entropy[100] - 1) < 1e-12, "the fair coin has 1 bit of entropy"
assert torch.allclose(coin_entropy, coin_entropy.flip(0)), "H(p) should equal H(1 - p)"
uniform6 = torch.full((6,), 1 / 6, dtype=torch.float64)
assert abs(entropy(uniform6, 2) - math.log2(6)) < 1e-12, (
    "N equally likely outcomes: log2 N bits"
)

# %% [markdown]
# ## Cross-entropy
#
# To build code 3 you needed the true distribution $P$. In practice you only have a guess, a model
# $Q$, and you build your code from it, giving outcome $x$ a codeword of $-\log Q(x)$ bits. The
# outcomes still arrive with their true frequencies $P$, so the average length you pay is
#
# $$
# H(P, Q) = -\sum_i P(x_i) \log Q(x_i) = \mathbb{E}_{x \sim P}\left[-\log Q(x)\right],
# $$
#
# the **[cross-entropy](../../book/glossary.md#term-cross-entropy)** (交叉熵) of $Q$ relative to $P$: expectation under $P$, code
# lengths from $Q$. Code lengths taken from the wrong distribution can only cost more on average:
# $H(P, Q) \ge H(P)$, with equality only when $Q = P$ (this is known as Gibbs' inequality).
#
# Imagine taking code 3, designed for Tokyo, to a rainier city where the weather is fine 12.5 %,
# cloudy 12.5 %, rainy 50 % and snowy 25 % of the days. The code now gives its longest words to the
# commonest weather.


# %%
def cross_entropy(P, Q, base=math.e):
    """Cross-entropy H(P, Q) = -sum P log Q over the last dimension; nats or base=2."""
    return -torch.special.xlogy(P, Q).sum(-1) / math.log(base)


rainy_city = torch.tensor([0.125, 0.125, 0.5, 0.25], dtype=torch.float64)
print(f"code 3 in the rainy city: {average_length(codes[3], rainy_city)} bits per day")
print(
    f"H(P, Q) = {cross_entropy(rainy_city, tokyo, 2):.3f} bits, "
    f"H(P) = {entropy(rainy_city, 2):.3f} bits"
)

# %% [markdown]
# Code 3 now costs 2.625 bits a day, which is exactly the cross-entropy, while a code built for the
# rainy city would need only its entropy, 1.75 bits (exercise 1 asks you to build it).

# %%
assert average_length(codes[3], rainy_city) == 2.625, (
    "code 3 should cost 2.625 bits there"
)
assert abs(cross_entropy(rainy_city, tokyo, 2) - 2.625) < 1e-12, (
    "the cost should equal H(P, Q)"
)
assert abs(entropy(rainy_city, 2) - 1.75) < 1e-12, (
    "the rainy city's entropy should be 1.75 bits"
)

# %% [markdown]
# One example proves nothing, so let's test $H(P, Q) \ge H(P)$ on 10,000 random pairs of
# distributions over 5 outcomes, drawn from a Dirichlet distribution (a standard way to draw random
# probability vectors; a concentration of 0.5 makes many of them lopsided). NumPy draws them
# from a generator of their own, `np.random.default_rng(0)`, so they are the same on every machine
# (PyTorch's `Dirichlet.sample` only uses the global generator). The same samples check
# our `entropy` against PyTorch's `Categorical(probs=P).entropy()`, and the promise from the coin
# section: none of them has more entropy than the uniform distribution, $\log_2 5$ bits.

# %%
rng = np.random.default_rng(0)  # the data's own generator: the same samples anywhere
P_rand, Q_rand = (
    torch.from_numpy(rng.dirichlet(np.full(5, 0.5), size=10_000)),
    torch.from_numpy(rng.dirichlet(np.full(5, 0.5), size=10_000)),
)  # (10000, 5) each, float64
gap = cross_entropy(P_rand, Q_rand) - entropy(P_rand)  # (10000,)
print(f"smallest H(P, Q) - H(P) over 10,000 pairs: {gap.min():.2e} nats")
assert (gap >= -1e-12).all(), f"H(P, Q) < H(P) for some pair (gap {gap.min():.2e})"
torch_entropy = torch.distributions.Categorical(probs=P_rand).entropy()  # (10000,)
assert torch.allclose(entropy(P_rand), torch_entropy), (
    "should agree with Categorical.entropy()"
)
print(
    f"largest entropy: {entropy(P_rand, 2).max():.4f} bits; log2 5 = {math.log2(5):.4f}"
)
assert (entropy(P_rand, 2) <= math.log2(5) + 1e-12).all(), (
    "no distribution beats the uniform"
)

# %% [markdown]
# ### Cross-entropy as a loss
#
# Now the connection to classification. A classifier that sorts pictures into five animals outputs
# a probability for each class: that is its $Q$. The truth $P$ is the **one-hot** label, a vector
# with 1 for the correct class and 0 elsewhere, the same length as $Q$:
#
# | animal | dog | fox | horse | eagle | squirrel |
# |---|---|---|---|---|---|
# | label | $[1,0,0,0,0]$ | $[0,1,0,0,0]$ | $[0,0,1,0,0]$ | $[0,0,0,1,0]$ | $[0,0,0,0,1]$ |
#
# Two models look at a picture of a dog:
#
# | model | prediction $Q$ |
# |---|---|
# | $Q_1$ | $[0.4, 0.3, 0.05, 0.05, 0.2]$ |
# | $Q_2$ | $[0.98, 0.01, 0, 0, 0.01]$ |
#
# With a one-hot $P$, every term of the cross-entropy but one is multiplied by 0, so
# $H(P, Q) = -\log Q(\text{dog})$: the loss only looks at the probability the model gave to the
# right answer. Following the source notes, and PyTorch, we use the natural logarithm here, so the
# numbers are in nats: $H(P, Q_1) = -\ln 0.4 \approx 0.916$ and $H(P, Q_2) = -\ln 0.98 \approx 0.020$.
# In bits they would be 1.32 and 0.029.

# %% tags=["nbval-check-output"]
animals = ["dog", "fox", "horse", "eagle", "squirrel"]
label = F.one_hot(torch.tensor(0), num_classes=5).double()  # the picture shows a dog
Q1 = torch.tensor([0.4, 0.3, 0.05, 0.05, 0.2], dtype=torch.float64)
Q2 = torch.tensor([0.98, 0.01, 0.0, 0.0, 0.01], dtype=torch.float64)
for name, Q in [("Q1", Q1), ("Q2", Q2)]:
    print(
        f"H(P, {name}) = {cross_entropy(label, Q):.3f} nats = "
        f"{cross_entropy(label, Q, base=2):.3f} bits"
    )

# %% [markdown]
# The more confident and correct the prediction, the smaller the loss; a perfect prediction,
# probability 1 on the right class, would cost 0. PyTorch computes the same numbers:
# `F.nll_loss` takes log-probabilities and the index of the right class, and `F.cross_entropy`
# takes raw scores (logits) and applies a softmax first, which the softmax regression lesson
# explains. Feeding it $\log Q$ as the scores works because the softmax of $\log Q$ is $Q$ again.

# %%
h1, h2 = cross_entropy(label, Q1), cross_entropy(label, Q2)
assert abs(h1 - 0.916) < 5e-4 and abs(h2 - 0.020) < 5e-4, (
    f"got {h1:.4f} and {h2:.4f} nats"
)
h1_bits, h2_bits = cross_entropy(label, Q1, base=2), cross_entropy(label, Q2, base=2)
assert abs(h1_bits - 1.32) < 5e-3 and abs(h2_bits - 0.029) < 5e-4, (h1_bits, h2_bits)
assert h2 < h1, "the confident, correct model should have the lower loss"
target = torch.tensor([0])  # index of "dog"
for Q, h in [(Q1, h1), (Q2, h2)]:
    assert torch.isclose(F.nll_loss(torch.log(Q)[None], target), h), (
        "nll_loss should agree"
    )
    assert torch.isclose(F.cross_entropy(torch.log(Q)[None], target), h), (
        "cross_entropy too"
    )

# %% [markdown]
# There is a failure mode hiding in $Q_2$. It gives the horse probability 0. If the picture had
# shown a horse, the loss would be $-\log 0 = \infty$: no finite code can send an outcome you
# declared impossible. This is one reason models output probabilities through a softmax, which is
# never exactly 0 in exact arithmetic. In floating point it can underflow: in `float32` the logits
# $(0, 200)$ give the first class a probability of exactly 0, although its log-probability,
# $-200$, is perfectly representable. That is why losses work with `log_softmax` instead.

# %%
horse = F.one_hot(torch.tensor(2), num_classes=5).double()
far_apart = torch.tensor([0.0, 200.0])  # float32 logits
assert far_apart.softmax(0)[0] == 0, "the softmax should underflow to exactly 0 here"
assert far_apart.log_softmax(0)[0] == -200, "log_softmax keeps the log-probability"

assert torch.isinf(cross_entropy(horse, Q2)), (
    "probability 0 for the truth should cost infinity"
)
assert torch.isfinite(cross_entropy(horse, Q1)), (
    "Q1 gives the horse 0.05, so a finite loss"
)

# %% [markdown]
# ## KL divergence
#
# How much do you lose by using $Q$ instead of $P$? The extra length, cross-entropy minus entropy,
# is the **[KL divergence](../../book/glossary.md#term-kl-divergence)** (KL散度, also 相对熵, relative entropy)
# ([Kullback and Leibler, 1951](../../book/references.md)):
#
# $$
# D_{\mathrm{KL}}(P \Vert Q) = H(P, Q) - H(P) = \sum_i P(x_i) \log \frac{P(x_i)}{Q(x_i)}.
# $$
#
# In the rainy city, code 3 wastes $2.625 - 1.75 = 0.875$ bits a day. Gibbs' inequality says the
# KL divergence is never negative and is 0 only when $Q = P$.
#
# In machine learning, $P$ is the data and $Q$ the model. The entropy $H(P)$ does not depend on the
# model at all, so minimising the KL divergence and minimising the cross-entropy move the model in
# exactly the same way; the cross-entropy is simpler to compute, so it is what we use as the loss.
# For a one-hot label $H(P) = 0$ and the two are even equal. PyTorch has the KL divergence as
# `F.kl_div(log_Q, P)`; note the unusual order, log-probabilities of the model first.


# %%
def kl_divergence(P, Q, base=math.e):
    """KL divergence D(P || Q) = sum P log(P / Q) over the last dimension (nats)."""
    return (torch.special.xlogy(P, P) - torch.special.xlogy(P, Q)).sum(-1) / math.log(
        base
    )


assert abs(kl_divergence(rainy_city, tokyo, base=2) - 0.875) < 1e-12, (
    "code 3 wastes 0.875 bits"
)
assert torch.isclose(kl_divergence(label, Q1), cross_entropy(label, Q1)), (
    "one-hot: KL = CE"
)
torch_kl = F.kl_div(torch.log(Q_rand), P_rand, reduction="none").sum(-1)  # (10000,)
assert torch.allclose(kl_divergence(P_rand, Q_rand), torch_kl), (
    "should agree with F.kl_div"
)

# %% [markdown]
# On the 10,000 random pairs, the KL divergence is never negative, and it agrees with PyTorch's
# `torch.distributions.kl_divergence` between two `Categorical` distributions.

# %%
kl_rand = kl_divergence(P_rand, Q_rand)  # (10000,)
print(
    f"KL over random pairs: min {kl_rand.min():.2e}, median {kl_rand.median():.3f} nats"
)
assert (kl_rand >= -1e-12).all(), f"negative KL divergence: {kl_rand.min():.2e}"
P_cat, Q_cat = (
    torch.distributions.Categorical(P_rand),
    torch.distributions.Categorical(Q_rand),
)
torch_kl2 = torch.distributions.kl_divergence(P_cat, Q_cat)  # (10000,)
assert torch.allclose(kl_rand, torch_kl2), (
    "should agree with torch.distributions.kl_divergence"
)

# %% [markdown]
# ### Not a distance: KL is asymmetric
#
# Unlike a distance, the KL divergence depends on which distribution comes first. Compare the
# three-outcome source $(0.7, 0.2, 0.1)$ from before with the uniform distribution $U$ on three
# outcomes: $D_{\mathrm{KL}}(P \Vert U) \approx 0.297$ nats but $D_{\mathrm{KL}}(U \Vert P) \approx
# 0.324$. With the one-hot dog label the difference is extreme: $D_{\mathrm{KL}}(P \Vert Q_1)$ is
# 0.916 nats, but $D_{\mathrm{KL}}(Q_1 \Vert P)$ is infinite, because $Q_1$ puts probability on
# classes to which $P$ gives none.

# %%
uniform3 = torch.full((3,), 1 / 3, dtype=torch.float64)
forward, backward = kl_divergence(abc, uniform3), kl_divergence(uniform3, abc)
print(f"D(P || U) = {forward:.3f} nats,  D(U || P) = {backward:.3f} nats")
assert abs(forward - 0.297) < 5e-4 and abs(backward - 0.324) < 5e-4, (
    "the two directions differ"
)
assert torch.isinf(kl_divergence(Q1, label)), "D(Q1 || one-hot) should be infinite"

# %% [markdown]
# The asymmetry matters when you *fit* a distribution. Let $P$ have two bumps, and let the model
# $Q$ be a single bell-shaped bump with a centre $\mu$ and a width $\sigma$ (both distributions live
# on a grid of 241 points, so the divergences are plain sums). We try every $(\mu, \sigma)$ on a
# grid and keep the one that minimises each direction of the KL divergence. Some very narrow
# candidates underflow to exact zeros far from their centre, where $P$ still has a little mass; their
# forward divergence is infinite, and `argmin` simply passes over them.

# %%
x = torch.linspace(-6, 6, 241, dtype=torch.float64)  # (241,)


def bump(mu, sigma):
    """A bell-shaped distribution on the grid x; mu and sigma may be tensors."""
    q = torch.exp(-((x - mu[..., None]) ** 2) / (2 * sigma[..., None] ** 2))
    # q: (..., 241)
    return q / q.sum(-1, keepdim=True)


left, right = bump(torch.tensor(-2.0), torch.tensor(0.6)), bump(torch.tensor(2.5),
                                                                   torch.tensor(0.8))
two_bumps = 0.5 * left + 0.5 * right  # (241,)
centres = torch.linspace(-5, 5, 201, dtype=torch.float64)  # (201,)
widths = torch.linspace(0.2, 5, 97, dtype=torch.float64)  # (97,)
mus, sigmas = torch.meshgrid(centres, widths, indexing="ij")  # (201, 97) each
candidates = bump(mus, sigmas)  # (201, 97, 241)
kl_forward = kl_divergence(two_bumps, candidates)  # (201, 97): D(P || Q)
best_forward = kl_forward.argmin()
best_reverse = kl_divergence(candidates, two_bumps).argmin()  # D(Q || P)
fits = {name: (mus.flatten()[i].item(), sigmas.flatten()[i].item())
        for name, i in [("forward", best_forward), ("reverse", best_reverse)]}
print({name: f"mu = {mu:.2f}, sigma = {s:.2f}" for name, (mu, s) in fits.items()})
print(f"{int(torch.isinf(kl_forward).sum())} candidates: infinite forward divergence")
assert torch.isinf(kl_forward).any()
assert torch.isfinite(kl_forward.flatten()[best_forward])

# %% [markdown]
# [Figure 2](#fig-information-theory-kl-fits) shows the two fits. Minimising $D_{\mathrm{KL}}(P \Vert Q)$ (forward) gives a wide
# bump that covers both of $P$'s bumps, because $Q$ is punished wherever $P$ has mass and $Q$ has
# little. Minimising $D_{\mathrm{KL}}(Q \Vert P)$ (reverse) settles on one of $P$'s bumps and
# ignores the other, because now $Q$ is punished for putting mass where $P$ has little.

# %% mystnb={"figure": {"caption": "Fitting one bell-shaped bump to a two-bump distribution P: minimising the forward KL divergence covers both bumps, minimising the reverse one picks a single bump.", "name": "fig-information-theory-kl-fits"}}
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.fill_between(x, two_bumps, color="gray", alpha=0.4, label="$P$ (two bumps)")
labels = {
    "forward": r"forward: min $D_{KL}(P \Vert Q)$",
    "reverse": r"reverse: min $D_{KL}(Q \Vert P)$",
}
for (name, (mu, s)), style in zip(fits.items(), ["-", "--"], strict=True):
    ax.plot(x, bump(torch.tensor(mu), torch.tensor(s)), style, label=labels[name])
ax.set_xlabel("$x$")
ax.set_ylabel("probability")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The checks: the forward fit is centred between the bumps and wider than either; the reverse fit
# sits on the right-hand bump with that bump's own width.

# %%
(mu_f, sigma_f), (mu_r, sigma_r) = fits["forward"], fits["reverse"]
assert -2 < mu_f < 2.5 and sigma_f > 2, (
    f"forward fit mu={mu_f:.2f}, sigma={sigma_f:.2f}"
)
assert abs(mu_r - 2.5) < 0.1 and abs(sigma_r - 0.8) < 0.1, (
    f"reverse fit mu={mu_r:.2f}, sigma={sigma_r:.2f}"
)

# %% [markdown]
# Which direction does training use? The cross-entropy loss, as you saw, is the forward direction,
# $D_{\mathrm{KL}}(P_{\text{data}} \Vert Q)$ plus a constant. So models trained with it prefer to
# spread probability over everything the data contains rather than miss part of it. The next
# section shows why this is the same as maximum likelihood.
#
# ## Likelihood: maximum likelihood is minimum cross-entropy
#
# Suppose a model $Q_\theta$ with parameters $\theta$ and data $x_1, \dots, x_n$ drawn independently.
# The **[likelihood](../../book/glossary.md#term-likelihood)** (似然) of $\theta$ is the probability the model gives to the data you
# actually observed, seen as a function of $\theta$:
#
# $$
# L(\theta) = \prod_{i=1}^n Q_\theta(x_i).
# $$
#
# The data are fixed; among all the models that could have produced them, the
# **[maximum likelihood estimate](../../book/glossary.md#term-maximum-likelihood-estimation)** (最大似然估计) picks the
# $\theta$ that makes them most probable. Take the logarithm (it does not move the maximum), divide
# by $n$, and group equal values: if value $k$ occurs $n_k$ times, its share is
# $\hat{P}(k) = n_k / n$, the *empirical distribution* of the data. Then
#
# $$
# \frac{1}{n} \log L(\theta) = \frac{1}{n} \sum_{i=1}^n \log Q_\theta(x_i)
#   = \sum_k \hat{P}(k) \log Q_\theta(k) = -H(\hat{P}, Q_\theta).
# $$
#
# Maximising the likelihood *is* minimising the cross-entropy between the data's empirical
# distribution and the model. And since $H(\hat{P}, Q) \ge H(\hat{P})$ with equality only at
# $Q = \hat{P}$, a model free to be any distribution ends up reproducing the observed frequencies.
#
# Let's check this on 100 flips of a biased coin. We evaluate the likelihood itself, a product of
# 100 probabilities, and the cross-entropy on a grid of 999 values of $\theta$, the probability of
# heads.

# %%
g = torch.Generator().manual_seed(0)  # fixed data: the same flips everywhere
flips = (torch.rand(100, dtype=torch.float64, generator=g) < 0.3).double()  # 1 = heads
heads = flips.mean().item()  # empirical frequency
thetas = torch.linspace(0.001, 0.999, 999, dtype=torch.float64)  # (999,)
probs = torch.where(flips[:, None] == 1, thetas, 1 - thetas)  # (100, 999)
likelihood = probs.prod(dim=0)  # (999,)
empirical = torch.tensor([heads, 1 - heads], dtype=torch.float64)
model = torch.stack([thetas, 1 - thetas], dim=1)  # (999, 2)
ce = cross_entropy(empirical, model)  # (999,)
theta_ml, theta_ce = thetas[likelihood.argmax()].item(), thetas[ce.argmin()].item()
print(
    f"heads: {heads:.2f}  max likelihood at {theta_ml:.3f}  "
    f"min cross-entropy at {theta_ce:.3f}"
)

# %% [markdown]
# [Figure 3](#fig-information-theory-likelihood) shows the cross-entropy against $\theta$. Its lowest point sits exactly at the observed
# frequency of heads (dashed line), and there its value equals the entropy of the empirical
# distribution (dotted line): no choice of $\theta$ can go below it.

# %% mystnb={"figure": {"caption": "The cross-entropy between the empirical distribution of 100 coin flips and the model Q_theta: it is lowest at the observed frequency of heads, where it equals the empirical entropy.", "name": "fig-information-theory-likelihood"}}
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(thetas, ce, label=r"$H(\hat P, Q_\theta)$ = average negative log-likelihood")
ax.axvline(heads, color="gray", linestyle="--", label=f"observed frequency {heads:.2f}")
ax.axhline(entropy(empirical), color="gray", linestyle=":", label=r"$H(\hat P)$")
ax.set_xlabel(r"probability of heads $\theta$")
ax.set_ylabel("cross-entropy (nats)")
ax.set_ylim(0, 3)
ax.legend(fontsize=8)
plt.show()

# %%
assert theta_ml == theta_ce, (
    f"max likelihood ({theta_ml}) and min CE ({theta_ce}) should agree"
)
assert abs(theta_ml - heads) < 1e-9, (
    f"the estimate {theta_ml:.3f} should be the frequency {heads}"
)
assert torch.allclose(-likelihood.log() / 100, ce), (
    "-log L / n should equal the cross-entropy"
)
assert abs(ce.min() - entropy(empirical)) < 1e-12, (
    "the minimum cross-entropy is H(P-hat)"
)

# %% [markdown]
# A grid works for one parameter. For more, you minimise the cross-entropy by gradient descent,
# which is how every classifier in this book is trained. Here the data are 300 rolls of a loaded
# die that shows a six half the time. The model has six free scores (logits), turned into
# probabilities by a softmax, and `F.cross_entropy` computes the average negative log-likelihood of
# the rolls. We take 100 plain gradient-descent steps with learning rate 2, updating the logits by
# hand. Maximum likelihood promises that training lands on the observed frequencies.

# %%
die_rng = torch.Generator().manual_seed(0)  # fixed data: the same rolls everywhere
loaded_die = torch.tensor([0.1, 0.1, 0.1, 0.1, 0.1, 0.5])
rolls = torch.multinomial(loaded_die, 300, replacement=True, generator=die_rng)
frequencies = torch.bincount(rolls, minlength=6) / len(rolls)  # (6,)
logits = torch.zeros(6, requires_grad=True)  # start from a fair die
for _ in range(100):
    loss = F.cross_entropy(
        logits.expand(len(rolls), 6), rolls
    )  # same scores for every roll
    loss.backward()
    with torch.no_grad():  # a plain gradient-descent step
        logits -= 2.0 * logits.grad
        logits.grad.zero_()
fitted = logits.detach().softmax(0)
print("observed:", [f"{f:.3f}" for f in frequencies.tolist()])
print("fitted:  ", [f"{f:.3f}" for f in fitted.tolist()])

# %%
assert (fitted - frequencies).abs().max() < 1e-4, (
    "the fitted model should match the frequencies"
)
assert abs(loss.item() - entropy(frequencies.double()).item()) < 1e-5, (
    "final loss = H(P-hat)"
)

# %% [markdown]
# ## Perplexity
#
# Cross-entropy in nats or bits is hard to picture. **[Perplexity](../../book/glossary.md#term-perplexity)** (困惑度) turns it into
# something you can: the exponential of the average cross-entropy of a model on a sequence
# $x_1, \dots, x_N$ (with natural logarithms; with base 2, raise 2 instead of $e$),
#
# $$
# \mathrm{PPL} = \exp\left(-\frac{1}{N} \sum_{t=1}^{N} \log Q(x_t)\right)
#   = \sqrt[N]{\frac{1}{Q(x_1)\, Q(x_2) \cdots Q(x_N)}}.
# $$
#
# In the second form, perplexity is 1 over the geometric mean of the probabilities the model gave
# to what actually happened. Read it as the number of equally likely choices the model is
# hesitating between at each step. A model that is always certain and right has perplexity 1; a
# model that spreads its bets evenly over $N$ choices has perplexity exactly $N$; a model that gives
# probability 0 to something that happens has infinite perplexity. For language models the
# $Q(x_t)$ are the probabilities of each next token given the ones before it, as chapter 5
# explains.
#
# First three models of the loaded die on 1,000 new, held-out rolls: the uniform model, our
# fitted model, and the true distribution of the die itself. The true die has entropy
# $H = -5 \times 0.1 \ln 0.1 - 0.5 \ln 0.5 \approx 1.498$ nats, so on a long sequence its
# perplexity is about $e^{1.498} \approx 4.47$: one face at 50 % and five at 10 % are as hard to
# guess as a fair die with 4.47 faces. A well-fitted model should come close to that, and no
# model can do better on average. Then the weather: even the perfect model of Tokyo's weather
# has perplexity $2^{1.75} \approx 3.36$, fewer than the four kinds of weather, because fine
# weather is so common.


# %%
def perplexity(Q, targets):
    """Perplexity of predicted distributions Q: (N, k) on observed outcomes (N,)."""
    return torch.exp(F.nll_loss(torch.log(Q), targets)).item()


held_out = torch.multinomial(loaded_die, 1000, replacement=True, generator=die_rng)
ppl_uniform = perplexity(torch.full((1000, 6), 1 / 6), held_out)
ppl_fitted = perplexity(fitted.expand(1000, 6), held_out)
ppl_true = perplexity(loaded_die.expand(1000, 6), held_out)
ppl_tokyo = 2 ** entropy(tokyo, base=2).item()  # the true model
print(
    f"uniform die model {ppl_uniform:.3f}, fitted die model {ppl_fitted:.3f}, "
    f"true die {ppl_true:.3f}, exp(H) {math.exp(entropy(loaded_die.double())):.3f}; "
    f"Tokyo weather {ppl_tokyo:.3f}"
)

# %% [markdown]
# The fitted model scores 4.49 on the held-out rolls, within 0.04 of the true die's 4.46 on the
# same rolls, and both are within 0.02 of $e^{H} \approx 4.47$. A model that had learned the
# wrong frequencies would show up here as a clearly higher perplexity.

# %%
assert abs(ppl_uniform - 6) < 1e-4, (
    f"a uniform model over 6 faces has perplexity {ppl_uniform}"
)
die_entropy = entropy(loaded_die.double()).item()  # nats
assert abs(die_entropy - 1.498) < 5e-4, f"the die's entropy is {die_entropy:.4f} nats"
ppl_entropy = math.exp(die_entropy)  # about 4.472
assert abs(ppl_entropy - 4.472) < 1e-3 and abs(ppl_true - ppl_entropy) < 0.02, ppl_true
assert abs(ppl_fitted - 4.49) < 0.005 and 0 < ppl_fitted - ppl_true < 0.04, ppl_fitted
assert abs(ppl_fitted - ppl_entropy) < 0.02, "within 0.02 of exp(H)"
d2lite.record("ppl_fitted", ppl_fitted)
d2lite.record("ppl_true", ppl_true)
assert abs(ppl_tokyo - 3.364) < 1e-3 and ppl_tokyo < 4, (
    f"Tokyo's perplexity is {ppl_tokyo:.3f}"
)

# %% [markdown]
# The two formulas agree on a short sequence. On a long one the product form breaks: the product of
# 1,000 probabilities of about 0.22 is about $10^{-652}$, far below the smallest positive number a
# `float64` can hold (about $5 \times 10^{-324}$), so it rounds to 0. Averaging logarithms avoids
# this, which is why losses are always computed in log space.

# %%
q_seen = fitted.double()[held_out]  # (1000,) Q(x_t)
root_form = (1 / q_seen[:50].prod()) ** (1 / 50)
assert abs(root_form - perplexity(fitted.expand(50, 6), held_out[:50])) < 1e-4, (
    "forms differ"
)
log10_product = q_seen.log().sum().item() / math.log(10)
assert abs(log10_product + 652.3) < 0.05, f"the product is 10^{log10_product:.2f}"
geometric_mean = 10 ** (log10_product / 1000)
assert abs(geometric_mean - 0.22) < 0.005, (
    f"the typical probability is {geometric_mean:.3f}"
)
assert q_seen.prod() == 0, "the product of 1,000 probabilities should underflow to 0"
assert abs(torch.exp(-q_seen.log().mean()) - ppl_fitted) < 1e-4, (
    "log space keeps it exact"
)

# %% [markdown]
# ## Summary
#
# - The information content of an event is $-\log p$: rare events tell you more, and information
#   from independent events adds. Base 2 gives bits, base $e$ nats.
# - Entropy $H(P) = -\sum P \log P$ is the average information of a source and a lower bound on
#   the average length of any lossless code. The bound is reached exactly when every probability is
#   a power of $1/2$: 1.75 bits for Tokyo's weather, by the code whose word lengths are
#   $-\log_2 P$. For $(0.7, 0.2, 0.1)$ the entropy is 1.157 bits but the best prefix code needs 1.3.
# - Cross-entropy $H(P, Q) = -\sum P \log Q$ is what you pay when you code (or predict) with $Q$ but
#   the data follow $P$; it is never below $H(P)$. With a one-hot label it is $-\log Q(\text{true
#   class})$, the classification loss: 0.916 nats for the hesitant dog classifier, 0.020 for the
#   confident one.
# - The KL divergence $D_{\mathrm{KL}}(P \Vert Q) = H(P, Q) - H(P) \ge 0$ is the extra cost. It is
#   asymmetric: the forward direction covers every mode of $P$, the reverse picks one.
# - Maximum likelihood is minimum cross-entropy between the empirical distribution and the model,
#   so a free model reproduces the observed frequencies.
# - Perplexity $= e^{\text{cross-entropy}}$ is the effective number of choices: $N$ for a uniform
#   guess over $N$ outcomes, 1 for a perfect model.

# %% [markdown]
# ## Exercises
#
# 1. **A code for the rainy city.** Write a prefix code for the rainy city (fine 12.5 %, cloudy
#    12.5 %, rainy 50 %, snow 25 %) whose average length equals its entropy, 1.75 bits. Put your
#    four codewords, in the order fine, cloudy, rainy, snow, in place of the `None` and run the
#    cell to check them.


# %%
def check_rainy_code(code):
    """Check a prefix code for the rainy city: prefix-free, binary, 1.75 bits a day."""
    if code is None:
        print("write your code first, e.g. ['000', '001', '01', '1'] (not a good one!)")
        return
    assert len(code) == 4 and all(set(w) <= {"0", "1"} and w for w in code), "4 words"
    assert is_prefix_free(code), f"{code} is not prefix-free: one word starts another"
    avg = average_length(code, rainy_city)
    assert avg == 1.75, f"your code needs {avg} bits a day; the entropy is 1.75"
    print("well done: your code reaches the entropy")


check_rainy_code(None)

# %% [markdown]
# A solution: code 3 with its words handed to the weather in the rainy city's order of
# likelihood, so that each word is $-\log_2 P$ bits long.

# %% tags=["hide-cell"]
rainy_code = ["110", "111", "0", "10"]  # fine, cloudy, rainy, snow: 3, 3, 1, 2 bits
check_rainy_code(rainy_code)
assert [len(w) for w in rainy_code] == information(rainy_city).tolist()

# %% [markdown]
# 2. **Binary cross-entropy.** For a yes/no label $y \in \{0, 1\}$ and a predicted probability
#    $q$ of "yes", the cross-entropy of $P = (y, 1 - y)$ and $Q = (q, 1 - q)$ is
#    $-y \log q - (1 - y) \log (1 - q)$. Compute it with `cross_entropy` for $y = 1$,
#    $q = 0.8$, and check your value against PyTorch's `F.binary_cross_entropy`.

# %% tags=["hide-cell"]
y_yes, q_yes = (
    torch.tensor(1.0, dtype=torch.float64),
    torch.tensor(0.8, dtype=torch.float64),
)
mine = cross_entropy(torch.stack([y_yes, 1 - y_yes]), torch.stack([q_yes, 1 - q_yes]))
print(f"binary cross-entropy {mine:.4f} nats = -ln 0.8")
assert torch.isclose(mine, F.binary_cross_entropy(q_yes, y_yes))
assert abs(mine - (-math.log(0.8))) < 1e-12

# %% [markdown]
# 3. **The most uncertain die.** Use the Dirichlet samples of this lesson with 6 outcomes
#    instead of 5 and check that none of them has an entropy above $\ln 6$, the entropy of a
#    fair die. What is the perplexity of a fair die, and what is the perplexity of a die that
#    always shows six?

# %% tags=["hide-cell"]
dice = torch.from_numpy(rng.dirichlet(np.full(6, 0.5), size=10_000))  # (10000, 6)
assert (entropy(dice) <= math.log(6) + 1e-12).all(), "no die beats the fair one"
rolls6 = torch.randint(0, 6, (600,), generator=die_rng)  # any rolls at all
fair = perplexity(torch.full((600, 6), 1 / 6), rolls6)
always_six = torch.full((600,), 5)  # face six, index 5
certain = perplexity(F.one_hot(always_six, 6).double(), always_six)
print(f"fair die: {fair:.3f}; a die that always shows six, on its own rolls: {certain}")
assert abs(fair - 6) < 1e-4 and certain == 1.0

# %% [markdown]
# 4. **Where $P$ is zero.** Change `two_bumps` so that it is exactly zero between the bumps
#    (multiply it by `(x.abs() > 1)` and renormalise) and run the fit again. Which direction of
#    the KL divergence can still be minimised, and which is infinite for every candidate $Q$?
#    Explain with the definition of $D_{\mathrm{KL}}$: what happens to a term where $Q(x) > 0$
#    but $P(x) = 0$, and to one where $P(x) > 0$ but $Q(x) = 0$?

# %% tags=["hide-cell"]
gapped = two_bumps * (x.abs() > 1)
gapped = gapped / gapped.sum()  # (241,)
forward_gap = kl_divergence(gapped, candidates)  # (201, 97)
reverse_gap = kl_divergence(candidates, gapped)  # (201, 97)
print(
    f"finite forward divergences: {int(torch.isfinite(forward_gap).sum())}; "
    f"finite reverse ones: {int(torch.isfinite(reverse_gap).sum())}"
)
# Forward: a term with P(x) = 0 contributes 0 log(0 / Q) = 0, so the gaps cost nothing.
assert torch.isfinite(forward_gap).any()
# Reverse: every bell is positive on part of the gap, where Q log(Q / 0) is infinite.
assert torch.isinf(reverse_gap).all()
