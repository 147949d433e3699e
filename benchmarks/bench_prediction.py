"""How fast, and in how much memory, do the neural reward models predict?

Questions
---------
1. **Speed by batch size.** Items per second of ``BTRegressor.decision_function``
   for ``predict_batch_size`` from 128 (the training batch, which prediction
   used before) to 16,384, against a plain PyTorch loop over the same fitted
   module (``module.eval()``, ``torch.no_grad()``, the same batch, a float32
   tensor sliced in place: the least work prediction can do). Net: the
   paper's ``d -> 1024 -> 512 -> 1`` (``RewardMLP``), d = 384 (all-MiniLM-L6-v2).
   Runs of every setting are interleaved (round-robin, ``--reps`` rounds) so
   that load from other processes hits all of them; other processes only ever
   add time, so each setting's fastest round is reported, and its median
   round, which is steadier on a busy machine, and the smallest batch whose
   median is within 10% of the fastest median. The best batch depends on the
   load: the default ``predict_batch_size`` (4,096) is the one that loses the
   least against the best batch in the worse of a busy run
   (``results/prediction.json``) and a quiet one (``--memory-items 0
   --output benchmarks/results/prediction_idle.json``); see the user guide's
   "Scaling out" page. Also: a float64 input at the default (each batch
   converted on its own).
2. **Memory.** Peak memory above the input while ``decision_function`` scores
   2,000,000 x 384 float64 items (6.1 GB of input): numpy allocations
   (``tracemalloc``) and the process's resident memory (sampled every 5 ms;
   it also counts torch's buffers and heap fragmentation), at the default,
   against skorch's own prediction path (the one used before), which
   converts ``X`` to float32 whole first (+2.9 GiB), with the batches'
   outputs collected in a list as before, in the same batches. Each path
   runs in a fresh process, so that neither inherits the other's heap.

Run from the repository root (about 20 minutes on 2 busy cores, 5 on quiet
ones; the old path needs about 13 GB of free memory, or pass a smaller
``--memory-items``)::

    python benchmarks/bench_prediction.py

Writes ``benchmarks/results/prediction.json`` and prints a table. The machine
is shared: the load average before and after is recorded with the numbers.
"""

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import skorch
import torch
from skorch import NeuralNet

from skreward import BTRegressor

HIDDEN = (1024, 512)
BATCH_SIZES = (128, 256, 512, 1024, 2048, 4096, 8192, 16384)


def load_average():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Highest resident memory of this process while the block runs (sampled)."""

    def __init__(self, interval=0.005):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self):
        self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def fitted_net(d, seed=0):
    """The default network, briefly trained (its weights do not change the speed)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2000, 2, d), dtype=np.float32)
    return BTRegressor(module__hidden_sizes=HIDDEN, max_epochs=1, validation_fraction=None,
                       random_state=seed).fit(X)


def plain_loop(module, X, batch_size):
    """The baseline: the same module, eval mode, no autograd, float32 slices."""
    module.eval()
    with torch.no_grad():
        return torch.cat([module(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_speed(net, n_items, d, reps, seed=1):
    rng = np.random.default_rng(seed)
    X32 = rng.standard_normal((n_items, d), dtype=np.float32)
    X64 = X32.astype(np.float64)
    X_t = torch.from_numpy(X32)
    reference = net.set_params(predict_batch_size=128).decision_function(X32)
    runs = {}
    for size in BATCH_SIZES:
        runs[("skreward", size)] = lambda size=size: net.set_params(
            predict_batch_size=size).decision_function(X32)
        runs[("plain", size)] = lambda size=size: plain_loop(net.module_, X_t, size)
    default = BTRegressor().predict_batch_size
    runs[("skreward float64", default)] = lambda: net.set_params(
        predict_batch_size=default).decision_function(X64)
    for fn in runs.values():  # warm-up, not timed
        fn()
    times = {key: [] for key in runs}
    for _ in range(reps):
        for key, fn in runs.items():
            times[key].append(timed(fn))
    for size in BATCH_SIZES:  # the answer does not depend on the batch
        rewards = net.set_params(predict_batch_size=size).decision_function(X32)
        assert np.allclose(rewards, reference, rtol=1e-4, atol=1e-5), size
    rows = [{"path": path, "batch_size": size, "n_items": n_items, "seconds": t,
             "items_per_s": n_items / min(t), "items_per_s_median": n_items / statistics.median(t)}
            for (path, size), t in times.items()]
    return rows


def choose_default(rows, within=0.10, key="items_per_s_median"):
    sweep = [r for r in rows if r["path"] == "skreward"]
    best = max(r[key] for r in sweep)
    return min(r["batch_size"] for r in sweep if r[key] >= (1 - within) * best)


MEMORY_PATHS = {
    "skreward": "skreward: per-batch float32",
    "before": "before: whole float32 copy",
}


def measure_memory(path, n_items, d, seed=2):
    """One path's peak memory, in a fresh process (see ``bench_memory``)."""
    net = fitted_net(d)
    default = BTRegressor().predict_batch_size  # both paths in batches of it: memory differs
    net.set_params(predict_batch_size=default, iterator_valid__batch_size=default)
    net.decision_function(np.zeros((10, d)))  # warm-up: torch's first allocations
    X = np.random.default_rng(seed).standard_normal((n_items, d))  # float64, as numpy makes it
    if path == "skreward":
        def fn():
            return net.decision_function(X)
    else:  # skorch's prediction path, used before: get_dataset converts X whole
        def fn():
            return [out.numpy() for out in NeuralNet.forward_iter(net, X)]
    gc.collect()
    base = rss_bytes()
    tracemalloc.start()
    with PeakRSS() as rss:
        seconds = timed(fn)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"path": MEMORY_PATHS[path], "n_items": n_items, "d": d, "input_bytes": X.nbytes,
            "float32_copy_bytes": X.size * 4, "seconds": seconds,
            "items_per_s": n_items / seconds,
            "batch_size": default,
            "peak_numpy_bytes_tracemalloc": traced,
            "peak_rss_above_start_bytes": rss.peak - base}


def bench_memory(n_items, d, threads):
    """Each path in its own process, so that neither inherits the other's heap."""
    rows = []
    for path in MEMORY_PATHS:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-path", path, "--memory-items", str(n_items),
             "--d", str(d), "--threads", str(threads)],
            check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--d", type=int, default=384)
    parser.add_argument("--n-items", type=int, default=100_000, help="items per timed call")
    parser.add_argument("--reps", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--memory-items", type=int, default=2_000_000)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--output", default=None)
    parser.add_argument("--memory-path", choices=list(MEMORY_PATHS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_path:  # a child of bench_memory
        print(json.dumps(measure_memory(args.memory_path, args.memory_items, args.d)))
        return

    load_before = load_average()
    net = fitted_net(args.d)
    speed = bench_speed(net, args.n_items, args.d, args.reps)
    load_mid = load_average()
    memory = bench_memory(args.memory_items, args.d, args.threads) if args.memory_items else []
    result = {
        "question": "decision_function items/s by predict_batch_size vs a plain torch loop "
                    "(same module, no_grad, same batch), and peak memory for float64 input",
        "command": "python benchmarks/bench_prediction.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
            if v is not None and k != "memory_path"),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "torch": torch.__version__, "skorch": skorch.__version__,
                    "threads": args.threads, "device": "cpu",
                    "load_average": [load_before, load_mid, load_average()],
                    "note": "shared machine: other processes ran during the measurement"},
        "architecture": f"{args.d} -> {' -> '.join(map(str, HIDDEN))} -> 1, ReLU",
        "default_predict_batch_size": BTRegressor().predict_batch_size,
        "smallest_batch_within_10pct_of_fastest_median": choose_default(speed),
        "smallest_batch_within_10pct_of_fastest_best": choose_default(speed, key="items_per_s"),
        "speed": speed,
        "memory": memory,
    }
    output = Path(args.output) if args.output else (
        Path(__file__).parent / "results" / "prediction.json")
    output.parent.mkdir(exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")

    print(f"cpu, {args.threads} threads, load average {load_before:.1f} -> {load_mid:.1f} -> "
          f"{load_average():.1f}; {result['architecture']}; {args.n_items:,} items per call, "
          f"best of {args.reps} interleaved rounds")
    plain = {r["batch_size"]: r for r in speed if r["path"] == "plain"}
    default = result["default_predict_batch_size"]
    ours = {r["batch_size"]: r for r in speed if r["path"] == "skreward"}
    print(f"\n{'batch':>6} {'decision_function/s':>20} {'(median)':>9} {'plain loop/s':>13} "
          f"{'(median)':>9} {'vs plain':>8} {'vs 128':>7}")
    for size in BATCH_SIZES:
        r, p = ours[size], plain[size]
        print(f"{size:>6}{'*' if size == default else ' '}{r['items_per_s']:>19,.0f} "
              f"{r['items_per_s_median']:>9,.0f} {p['items_per_s']:>13,.0f} "
              f"{p['items_per_s_median']:>9,.0f} {r['items_per_s'] / p['items_per_s']:>8.2f} "
              f"{r['items_per_s'] / ours[128]['items_per_s']:>7.2f}")
    f64 = next(r for r in speed if r["path"] == "skreward float64")
    print(f"float64 input at the default ({default}): {f64['items_per_s']:,.0f} items/s")
    print(f"* default; smallest batch within 10% of the fastest median: "
          f"{result['smallest_batch_within_10pct_of_fastest_median']} (of the fastest best "
          f"round: {result['smallest_batch_within_10pct_of_fastest_best']})")
    if memory:
        print(f"\nmemory, {args.memory_items:,} x {args.d} float64 "
              f"({memory[0]['input_bytes'] / 2**30:.2f} GiB input; a float32 copy "
              f"{memory[0]['float32_copy_bytes'] / 2**30:.2f} GiB)")
        print(f"{'path':30} {'batch':>6} {'numpy peak':>11} {'RSS peak':>10} {'items/s':>9}")
        for r in memory:
            print(f"{r['path']:30} {r['batch_size']:>6} "
                  f"{r['peak_numpy_bytes_tracemalloc'] / 2**20:>7.0f} MiB "
                  f"{r['peak_rss_above_start_bytes'] / 2**20:>6.0f} MiB {r['items_per_s']:>9,.0f}")
    print(f"\nwrote {output}")


if __name__ == "__main__":
    main()
