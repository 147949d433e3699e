"""How much faster are M neural reward models trained as one stacked network than one by one?

Question: an ensemble of M BT-MLP (or CLF-MLP) members of the paper's
network (d -> 1024 -> 512 -> 1, ReLU, Adam lr 1e-3, batch 128) trained by
``skreward.models.fit_stacked`` (one batched forward and backward pass per
step for all members: grouped linear layers over their stacked weights) vs the
same M members fitted one after another (``clone(member).fit``), on the same
comparisons, for d = 384 and 2048 and M = 5 and 10, in one process. The two
are interleaved (stacked, separate, separate, stacked, ...) so that load from
other processes hits both; other processes only ever add time, so the ratio
is taken of the fastest rounds, and of the medians too; and of the CPU
times of the process (``time.process_time``: robust to waiting for a core,
on one thread, ``--threads 1``, on a busy machine). Also reported: the
largest difference between a stacked member's rewards and its separate fit's
(float rounding of batched vs unbatched matrix products; see ``fit_stacked``).

Throughput is in comparisons per second of training: ``n_pairs x epochs``
per member, so an ensemble of M counts ``M x n_pairs x epochs``.

Run: ``python benchmarks/bench_stacked.py`` (``--quick`` for a smaller run,
``--device cuda`` on a GPU machine, ``--help`` for options). Writes
``benchmarks/results/stacked.json`` (``stacked_<device>.json`` for other
devices) and prints a table.
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
from sklearn.base import clone

from skreward import BTRegressor, PairwiseTransformer, RewardMLPClassifier, simulate_comparisons
from skreward.datasets import make_preference_testbed
from skreward.models import fit_stacked

HIDDEN = (1024, 512)


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def load_average():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def make_data(d, n_pairs, seed=0):
    data = make_preference_testbed(n_prompts=max(n_pairs // 10, 10), n_responses=10,
                                   n_test_prompts=1, n_candidates=10, n_features=d,
                                   random_state=seed)
    sim = simulate_comparisons(data.golden, data.groups, n_pairs=n_pairs, beta=10,
                               random_state=seed)
    X_pairs = sim.take(data.X).astype(np.float32)
    X_items, y_items = PairwiseTransformer("pointwise").fit_resample(X_pairs, sim.y)
    return X_pairs, sim.y, X_items.astype(np.float32), y_items


def members(model, n_members, epochs, device):
    settings = dict(module__hidden_sizes=HIDDEN, max_epochs=epochs, validation_fraction=None,
                    device=device)
    base = (BTRegressor(batch_size=128, **settings) if model == "BT-MLP"
            else RewardMLPClassifier(batch_size=256, **settings))
    return [clone(base).set_params(random_state=seed) for seed in range(n_members)]


def timed(fn, device):
    """Wall and CPU seconds of this process (CPU time does not count waiting for a core)."""
    sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    sync(device)
    return time.perf_counter() - start, time.process_time() - cpu, out


def bench(model, d, n_members, X, y, X_check, epochs, reps, device):
    def stacked():
        return fit_stacked(members(model, n_members, epochs, device), X, y)

    def separate():
        return [net.fit(X, y) for net in members(model, n_members, epochs, device)]

    times = {"stacked": [], "separate": [], "stacked_cpu": [], "separate_cpu": []}
    fitted = {}
    for rep in range(reps):
        for name in (["stacked", "separate"] if rep % 2 == 0 else ["separate", "stacked"]):
            seconds, cpu, fitted[name] = timed(stacked if name == "stacked" else separate, device)
            times[name].append(seconds)
            times[name + "_cpu"].append(cpu)
    diff = max(float(np.max(np.abs(a.decision_function(X_check) - b.decision_function(X_check))))
               for a, b in zip(fitted["stacked"], fitted["separate"]))
    scale = float(np.std(fitted["separate"][0].decision_function(X_check)))
    work = n_members * len(X) * epochs  # member-rows of training (comparisons or items)
    best_s, best_p = min(times["stacked"]), min(times["separate"])
    return {
        "model": model, "d": d, "n_members": n_members, "n_rows": len(X), "epochs": epochs,
        "stacked_s": times["stacked"], "separate_s": times["separate"],
        "speedup": best_p / best_s,
        "speedup_median": (statistics.median(times["separate"])
                           / statistics.median(times["stacked"])),
        "stacked_cpu_s": times["stacked_cpu"], "separate_cpu_s": times["separate_cpu"],
        "speedup_cpu": min(times["separate_cpu"]) / min(times["stacked_cpu"]),
        "stacked_rows_per_s": work / best_s, "separate_rows_per_s": work / best_p,
        "max_abs_reward_difference": diff, "reward_std": scale,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 2048])
    parser.add_argument("--members", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--models", nargs="+", default=["BT-MLP"],
                        choices=["BT-MLP", "CLF-MLP"])
    parser.add_argument("--n-pairs", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--reps", type=int, default=2, help="timed rounds of each, interleaved")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 comparisons, 1 epoch (a smoke run, e.g. of gpu_check.sh)")
    parser.add_argument("--note", default="", help="written into the results (e.g. 'shared CPU')")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    if args.quick:
        args.n_pairs, args.epochs = 1000, 1
    torch.set_num_threads(args.threads)
    device = args.device
    load_before = load_average()
    rows = []
    for d in args.dims:
        X_pairs, y, X_items, y_items = make_data(d, args.n_pairs)
        # Warm-up (allocator, kernels), not timed.
        fit_stacked(members("BT-MLP", 2, 1, device), X_pairs[:256], y[:256])
        members("BT-MLP", 1, 1, device)[0].fit(X_pairs[:256], y[:256])
        for model in args.models:
            X, labels = (X_pairs, y) if model == "BT-MLP" else (X_items, y_items)
            for n_members in args.members:
                row = bench(model, d, n_members, X, labels, X_items[:2000], args.epochs,
                            args.reps, device)
                rows.append(row)
                print(f"{model} d={d} M={n_members}: stacked {min(row['stacked_s']):.2f} s, "
                      f"separate {min(row['separate_s']):.2f} s (speedup {row['speedup']:.2f}, "
                      f"of medians {row['speedup_median']:.2f}, of CPU times "
                      f"{row['speedup_cpu']:.2f}; max reward difference "
                      f"{row['max_abs_reward_difference']:.1e})", flush=True)
    result = {
        "question": "M neural reward models trained as one stacked network (fit_stacked) vs "
                    "one after another: wall time of the same members on the same data",
        "command": "python benchmarks/bench_stacked.py " + " ".join(
            f"--{k.replace('_', '-')}" + ("" if v is True else " " + (
                " ".join(map(str, v)) if isinstance(v, list) else str(v)))
            for k, v in vars(args).items() if v not in (None, False, "")),
        "note": args.note,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "skorch": skorch.__version__, "threads": args.threads, "device": device,
                    "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None,
                    "load_average_before": load_before, "load_average_after": load_average()},
        "architecture": f"d -> {' -> '.join(map(str, HIDDEN))} -> 1, ReLU, Adam lr 1e-3, "
                        "batch 128 comparisons (BT) / 256 items (CLF), no validation split",
        "rows": rows,
    }
    output = Path(args.output) if args.output else (
        Path(__file__).parent / "results"
        / ("stacked.json" if device == "cpu" else f"stacked_{device.replace(':', '')}.json"))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")

    print(f"\n{device}, {args.threads} threads, load {load_before:.1f} -> {load_average():.1f}; "
          f"best of {args.reps} interleaved rounds; rows/s = member-rows of training per second")
    print(f"{'model':8} {'d':>5} {'M':>3} {'separate s':>10} {'stacked s':>10} {'speedup':>8} "
          f"{'median':>7} {'CPU':>6} {'separate rows/s':>15} {'stacked rows/s':>14} "
          f"{'max diff':>9}")
    for r in rows:
        print(f"{r['model']:8} {r['d']:>5} {r['n_members']:>3} {min(r['separate_s']):>10.2f} "
              f"{min(r['stacked_s']):>10.2f} {r['speedup']:>8.2f} {r['speedup_median']:>7.2f} "
              f"{r['speedup_cpu']:>6.2f} "
              f"{r['separate_rows_per_s']:>15.0f} {r['stacked_rows_per_s']:>14.0f} "
              f"{r['max_abs_reward_difference']:>9.1e}")
    print(f"\nwrote {output}")


if __name__ == "__main__":
    main()
