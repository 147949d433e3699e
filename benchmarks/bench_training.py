"""How fast do BT-MLP and CLF-MLP train on skorch, compared with a plain PyTorch loop?

Question: does wrapping the scoring network in skorch (``BTRegressor`` and
``RewardMLPClassifier``) cost training speed? Each model trains the paper's
network (d -> 1024 -> 512 -> 1, ReLU, Adam lr 1e-3) on 20,000 comparisons
for d = 384 and d = 2048, against a hand-written PyTorch loop of the same
architecture, batch size, data and objective, in the same process and with
the same ``torch.set_num_threads``. Epochs of the two are interleaved (plain,
skorch, skorch, plain, ...) so that load from other processes hits both.
Target: a skorch epoch within 1.10x of the plain loop's. Other processes only
ever add time, so the ratio is taken of the fastest epochs (the least
disturbed ones); the ratios of the medians and of the CPU times of the
process (``time.process_time``, robust to waiting for a core when running
on one thread) are reported too.

Also reported: attained GFLOP/s of training (model FLOPs: forward, weight
gradients, and input gradients of all but the first layer) against a large
float32 matmul measured in the same run, i.e. how close training gets to
this machine's limit; and prediction throughput (items per second) of
``decision_function`` against plain batched ``module(X)`` under
``torch.no_grad()``.

Run: ``python benchmarks/bench_training.py`` (``--help`` for options; use
``--device cuda`` on a GPU machine). Writes ``benchmarks/results/training.json``
(``training_<device>.json`` for other devices) and prints a table.
"""

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import skorch
import torch
import torch.nn.functional as F
from skorch.callbacks import Callback

from skreward import BTRegressor, PairwiseTransformer, RewardMLP, RewardMLPClassifier
from skreward import simulate_comparisons
from skreward.datasets import make_preference_testbed

HIDDEN = (1024, 512)
BT_BATCH = 128  # comparisons per step (256 items through the network)
CLF_BATCH = 256  # items per step: the same work per step as BT


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def load_average():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def training_flops_per_item(d, hidden=HIDDEN):
    """Multiply-adds x 2 of forward, weight gradients, and input gradients past layer 1."""
    sizes = [d, *hidden, 1]
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 2 * (macs + macs + (macs - sizes[0] * sizes[1]))


def matmul_gflops(device, n=2048, repeat=5):
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    best = float("inf")
    for _ in range(repeat):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def make_data(d, n_pairs, seed=0):
    data = make_preference_testbed(n_prompts=n_pairs // 10, n_responses=10, n_test_prompts=1,
                                   n_candidates=10, n_features=d, random_state=seed)
    sim = simulate_comparisons(data.golden, data.groups, n_pairs=n_pairs, beta=10,
                               random_state=seed)
    X_pairs = sim.take(data.X).astype(np.float32)
    X_items, y_items = PairwiseTransformer("pointwise").fit_resample(X_pairs, sim.y)
    return X_pairs, sim.y, X_items.astype(np.float32), y_items


class PlainLoop:
    """The hand-written baseline: one module, Adam, shuffled index batches."""

    def __init__(self, d, objective, batch_size, device, seed=0):
        torch.manual_seed(seed)
        self.module = RewardMLP(d, HIDDEN).to(device)
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=1e-3)
        self.objective, self.batch_size, self.device = objective, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)

    def epoch(self, X, y):
        self.module.train()
        order = torch.randperm(len(X), generator=self.generator)
        total = 0.0
        for start in range(0, len(X), self.batch_size):
            index = order[start:start + self.batch_size]
            xb, yb = X[index].to(self.device), y[index].to(self.device)
            if self.objective == "bt":
                reward = self.module(xb.reshape(-1, xb.shape[-1])).reshape(-1, 2)
                loss = F.binary_cross_entropy_with_logits(reward[:, 0] - reward[:, 1], yb)
            else:
                loss = F.binary_cross_entropy_with_logits(self.module(xb), yb)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total += loss.item()
        return total

    def predict(self, X, batch_size):
        self.module.eval()
        with torch.no_grad():
            return torch.cat([self.module(X[i:i + batch_size].to(self.device)).cpu()
                              for i in range(0, len(X), batch_size)])


class EpochCPUTimer(Callback):
    """Records each epoch's CPU time of this process as ``cpu_dur`` (skorch's ``dur`` is wall)."""

    def on_epoch_begin(self, net, **kwargs):
        self.start_ = time.process_time()

    def on_epoch_end(self, net, **kwargs):
        net.history.record("cpu_dur", time.process_time() - self.start_)


def timed_plain_epoch(loop, X, y):
    """Wall and CPU seconds of one epoch of the plain loop."""
    sync(loop.device)
    wall, cpu = time.perf_counter(), time.process_time()
    loop.epoch(X, y)
    sync(loop.device)
    return time.perf_counter() - wall, time.process_time() - cpu


def timed_skorch_epoch(net, X, y):
    """One epoch by partial_fit: skorch's own epoch times (wall, CPU) and the whole call's."""
    start = time.perf_counter()
    net.partial_fit(X, y)
    return net.history_[-1, "dur"], net.history_[-1, "cpu_dur"], time.perf_counter() - start


def bench_training(name, d, n_pairs, X, y, reps, device):
    settings = dict(module__hidden_sizes=HIDDEN, max_epochs=1, validation_fraction=None,
                    random_state=0, device=device, callbacks=[("cpu_timer", EpochCPUTimer())])
    if name == "BT-MLP":
        net = BTRegressor(batch_size=BT_BATCH, **settings)
        loop = PlainLoop(d, "bt", BT_BATCH, device)
    else:
        net = RewardMLPClassifier(batch_size=CLF_BATCH, **settings)
        loop = PlainLoop(d, "clf", CLF_BATCH, device)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.float32))
    # Warm-up epoch for each (allocator, kernels), not timed.
    loop.epoch(X_t, y_t)
    net.partial_fit(X, y)
    times = {key: [] for key in ["plain", "plain_cpu", "skorch", "skorch_cpu", "skorch_call"]}
    for rep in range(reps):
        for run in (["plain", "skorch"] if rep % 2 == 0 else ["skorch", "plain"]):
            if run == "plain":
                wall, cpu = timed_plain_epoch(loop, X_t, y_t)
                times["plain"].append(wall)
                times["plain_cpu"].append(cpu)
            else:
                wall, cpu, call = timed_skorch_epoch(net, X, y)
                times["skorch"].append(wall)
                times["skorch_cpu"].append(cpu)
                times["skorch_call"].append(call)
    flops = training_flops_per_item(d) * 2 * n_pairs
    # Other processes only ever add time: the fastest epoch is the least disturbed one.
    best_plain, best_skorch = min(times["plain"]), min(times["skorch"])
    return net, loop, {
        "model": name, "d": d, "n_pairs": n_pairs,
        "batch_size": BT_BATCH if name == "BT-MLP" else CLF_BATCH,
        "plain_epoch_s": times["plain"], "skorch_epoch_s": times["skorch"],
        "plain_epoch_cpu_s": times["plain_cpu"], "skorch_epoch_cpu_s": times["skorch_cpu"],
        "skorch_partial_fit_call_s": times["skorch_call"],
        "ratio_skorch_to_plain": best_skorch / best_plain,
        "ratio_skorch_to_plain_median": (statistics.median(times["skorch"])
                                         / statistics.median(times["plain"])),
        "ratio_skorch_to_plain_cpu": min(times["skorch_cpu"]) / min(times["plain_cpu"]),
        "plain_comparisons_per_s": n_pairs / best_plain,
        "skorch_comparisons_per_s": n_pairs / best_skorch,
        "plain_gflops": flops / best_plain / 1e9,
        "skorch_gflops": flops / best_skorch / 1e9,
    }


def bench_prediction(net, loop, X_items, device, batch_sizes=(128, 4096), repeat=3):
    rows = []
    X_t = torch.from_numpy(X_items)
    for batch_size in batch_sizes:
        net.set_params(predict_batch_size=batch_size)
        skorch_s = min(_time(lambda: net.decision_function(X_items), device)
                       for _ in range(repeat))
        plain_s = min(_time(lambda: loop.predict(X_t, batch_size), device)
                      for _ in range(repeat))
        rows.append({"d": X_items.shape[1], "batch_size": batch_size, "n_items": len(X_items),
                     "plain_items_per_s": len(X_items) / plain_s,
                     "skorch_items_per_s": len(X_items) / skorch_s,
                     "ratio_skorch_to_plain": skorch_s / plain_s})
    return rows


def _time(fn, device):
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 2048])
    parser.add_argument("--n-pairs", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3, help="timed epochs of each, interleaved")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = args.device

    load_before = load_average()
    matmul_before = matmul_gflops(device)
    training, prediction = [], []
    for d in args.dims:
        X_pairs, y, X_items, y_items = make_data(d, args.n_pairs)
        for name, X, labels in [("BT-MLP", X_pairs, y), ("CLF-MLP", X_items, y_items)]:
            net, loop, row = bench_training(name, d, args.n_pairs, X, labels, args.reps, device)
            training.append(row)
            print(f"d={d} {name}: plain {min(row['plain_epoch_s']):.2f} s, "
                  f"skorch {min(row['skorch_epoch_s']):.2f} s per epoch (best of {args.reps}; "
                  f"ratio {row['ratio_skorch_to_plain']:.3f}, of medians "
                  f"{row['ratio_skorch_to_plain_median']:.3f}, of CPU times "
                  f"{row['ratio_skorch_to_plain_cpu']:.3f})", flush=True)
            if name == "BT-MLP":
                prediction += bench_prediction(net, loop, X_items, device)
    matmul_after = matmul_gflops(device)
    matmul = max(matmul_before, matmul_after)
    for row in training:
        row["plain_fraction_of_matmul"] = row["plain_gflops"] / matmul
        row["skorch_fraction_of_matmul"] = row["skorch_gflops"] / matmul

    result = {
        "question": "skorch (BTRegressor, RewardMLPClassifier) vs a plain PyTorch loop: epoch "
                    "time of the same network, batch size and data; target ratio <= 1.10",
        "command": "python benchmarks/bench_training.py " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items() if v is not None),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "skorch": skorch.__version__, "threads": args.threads, "device": device,
                    "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None,
                    "load_average_before": load_before, "load_average_after": load_average()},
        "architecture": f"d -> {' -> '.join(map(str, HIDDEN))} -> 1, ReLU, Adam lr 1e-3",
        "matmul_gflops": {"before": matmul_before, "after": matmul_after},
        "training": training,
        "prediction": prediction,
    }
    output = Path(args.output) if args.output else (
        Path(__file__).parent / "results"
        / ("training.json" if device == "cpu" else f"training_{device.replace(':', '')}.json"))
    output.parent.mkdir(exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")

    print(f"\n{device}, {args.threads} threads, load {load_before:.1f} -> {load_average():.1f}; "
          f"matmul {matmul:.0f} GFLOP/s")
    print(f"training epochs, best of {args.reps}; ratio skorch/plain of the best wall times, "
          "of the medians, of the best CPU times")
    print(f"{'model':8} {'d':>5} {'plain s/ep':>10} {'skorch s/ep':>11} {'ratio':>6} "
          f"{'median':>6} {'CPU':>6} {'plain cmp/s':>11} {'skorch cmp/s':>12} {'GFLOP/s':>8} "
          f"{'of matmul':>9}")
    for row in training:
        print(f"{row['model']:8} {row['d']:>5} {min(row['plain_epoch_s']):>10.2f} "
              f"{min(row['skorch_epoch_s']):>11.2f} {row['ratio_skorch_to_plain']:>6.3f} "
              f"{row['ratio_skorch_to_plain_median']:>6.3f} "
              f"{row['ratio_skorch_to_plain_cpu']:>6.3f} {row['plain_comparisons_per_s']:>11.0f} "
              f"{row['skorch_comparisons_per_s']:>12.0f} {row['skorch_gflops']:>8.1f} "
              f"{row['skorch_fraction_of_matmul']:>9.0%}")
    print(f"\n{'predict':8} {'d':>5} {'batch':>6} {'plain items/s':>14} {'skorch items/s':>15} "
          f"{'ratio':>6}")
    for row in prediction:
        print(f"{'BT-MLP':8} {row['d']:>5} {row['batch_size']:>6} {row['plain_items_per_s']:>14.0f} "
              f"{row['skorch_items_per_s']:>15.0f} {row['ratio_skorch_to_plain']:>6.3f}")
    print(f"\nwrote {output}")


if __name__ == "__main__":
    main()
