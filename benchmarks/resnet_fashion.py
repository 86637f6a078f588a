"""Train a ResNet on Fashion-MNIST to >= 93 % test accuracy, with `d2lite.fit` and a plain loop.

The recipe (fixed here, chosen on the validation split): `d2lite.models.ResNet` with stages of
`--channels`, bf16 autocast, channels-last memory, SGD with Nesterov momentum and a one-cycle
schedule stepped every batch, label smoothing, random flips and 2-pixel shifts as tensor ops on
the device. The data stay on the device (`d2lite.data.batches(..., device=...)`), so no copy
crosses the bus during training. The same model, data order and schedule run twice: through `fit`
and through the plain loop `fit` stands for; each prints its seconds (training only, synchronised),
validation and test accuracy. The last line is `ratio=<fit seconds / plain seconds>` (target
<= 1.05 on a GPU). Target on one H100: >= 93 % test accuracy in <= 10 s.

    python benchmarks/resnet_fashion.py                  # GPU
    python benchmarks/resnet_fashion.py --quick          # CPU smoke test: 2,048 images, 1 epoch
"""
import argparse
import time

import torch
from torch import nn

import d2lite
from d2lite import transforms as T
from d2lite.distributed import set_epoch
from d2lite.models import ResNet

MEAN, STD = 0.286, 0.353  # Fashion-MNIST's pixel mean and standard deviation


class Augmented:
    """Batches of `data` with `transform` applied, then normalised: what both loops train on."""

    def __init__(self, data, transform):
        self.data, self.transform = data, transform

    def __len__(self):
        return len(self.data)

    def set_epoch(self, epoch):
        self.data.set_epoch(epoch)  # epoch e's order is seeded with seed + e, in both loops

    def __iter__(self):
        for X, y in self.data:
            yield (self.transform(X) - MEAN) / STD, y


def make_model(args, device):
    torch.manual_seed(0)
    model = ResNet(channels=args.channels, blocks_per_stage=args.blocks)
    return model.to(device, memory_format=torch.channels_last)


def make_optimizer(model, args, steps):
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                                weight_decay=args.wd)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps)
    return optimizer, schedule


def plain_loop(model, data, loss_fn, optimizer, schedule, epochs, device):
    """The loop `fit` stands for, with the same autocast and per-batch schedule."""
    for epoch in range(epochs):
        set_epoch(data, epoch)              # as fit does: the same order in both runs
        model.train()
        for X, y in data:
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = loss_fn(model(X), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()


@torch.no_grad()
def accuracy(model, X, y, device):
    """Accuracy over (X, y) in batches of 2,000, in eval mode and bf16."""
    model.eval()
    correct = 0
    for i in range(0, len(y), 2000):
        with torch.autocast(device.type, dtype=torch.bfloat16):
            scores = model((X[i:i + 2000] - MEAN) / STD)
        correct += (scores.argmax(1) == y[i:i + 2000]).sum().item()
    return correct / len(y)


def run(which, args, train, val, test, device):
    model = make_model(args, device)
    optimizer, schedule = make_optimizer(model, args, args.epochs * len(train))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    if which == "fit":
        d2lite.fit(model, train, loss_fn=loss_fn, optimizer=optimizer, epochs=args.epochs,
                   amp="bf16", scheduler=schedule, scheduler_step="batch", device=device)
    else:
        plain_loop(model, train, loss_fn, optimizer, schedule, args.epochs, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    val_acc, test_acc = accuracy(model, *val, device), accuracy(model, *test, device)
    print(f"{which:5s} {seconds:6.2f} s   val {val_acc:.4f}   test {test_acc:.4f}", flush=True)
    return seconds, test_acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="default: d2lite.try_gpu()")
    parser.add_argument("--channels", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--blocks", type=int, default=1, help="residual blocks per stage")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--lr", type=float, default=0.2, help="one-cycle maximum")
    parser.add_argument("--wd", type=float, default=5e-4, help="weight decay")
    parser.add_argument("--only", choices=["fit", "plain"], help="run one loop, not both")
    parser.add_argument("--quick", action="store_true", help="2,048 images, 1 epoch (a test)")
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else d2lite.try_gpu()
    torch.backends.cudnn.benchmark = True
    (X, y), (X_test, y_test) = d2lite.data.load_fashion_mnist()
    (X_train, y_train), val = d2lite.data.train_val_split(X, y, val_fraction=5000 / 60000)
    if args.quick:
        X_train, y_train, args.epochs = X_train[:2048], y_train[:2048], 1
    flips_and_shifts = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(padding=2)])
    train = Augmented(d2lite.data.batches(X_train, y_train, args.batch, seed=0, device=device,
                                          drop_last=True), flips_and_shifts)
    val = tuple(t.to(device) for t in val)
    test = (X_test.to(device), y_test.to(device))
    print(f"ResNet{tuple(args.channels)} x{args.blocks} on {device} "
          f"({torch.cuda.get_device_name(0) if device.type == 'cuda' else 'CPU'}), "
          f"{len(y_train)} images, batch {args.batch}, {args.epochs} epochs, lr {args.lr}")
    first = ((X_train[:args.batch].to(device) - MEAN) / STD, y_train[:args.batch].to(device))
    run("warm", args, [first] * 3, val, test, device)  # cuDNN picks its kernels; train untouched
    times = {}
    for which in [args.only] if args.only else ["plain", "fit"]:
        times[which], _ = run(which, args, train, val, test, device)
    if len(times) == 2:
        print(f"ratio={times['fit'] / times['plain']:.4f}")


if __name__ == "__main__":
    main()
