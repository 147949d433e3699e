"""How many threads should LightGBM use for skreward's CLF-LGB on a small machine?

Question: the README's quickstart fits ``OrderConsistentClassifier(LGBMClassifier())``
on 10,000 comparisons of the default testbed (20,000 items x 64 features,
100 trees). LightGBM's default (``n_jobs=None``) starts one OpenMP thread
per core. On a machine whose cores are also busy with other work, threads
that wait for each other at every step of every tree may cost far more than
they gain. How long does the fit take (and ``decision_function`` on the
25,000 test items) for ``n_jobs`` = None (LightGBM's default), 1, 2 and -1,
in one process, on idle cores and with other work running?

Other work is emulated: for each ``--busy`` level k, the script starts k
processes that spin on one core each (``while True: pass``), measures, and
stops them (by their process ids). Runs of every setting are interleaved
(round-robin, ``--reps`` rounds) so that load from other processes hits all
of them. Reported per setting: the fastest and the median wall time, the CPU
time of the process, the ratio to ``n_jobs=1`` (medians), and the slowest
round and the total of the rounds: with threads, a fit now and then stalls
for far longer than its median (threads waiting for a thread that waits for
a core), and the median hides it. The rewards of every setting are checked
to rank the test items alike.

Run from the repository root (one to a few minutes; it loads every core)::

    python benchmarks/bench_lightgbm_threads.py

Writes ``benchmarks/results/lightgbm_threads.json`` and prints a table. The
machine is shared: the load average before and after is recorded.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import lightgbm
import numpy as np
from lightgbm import LGBMClassifier
from scipy.stats import spearmanr

from skreward import OrderConsistentClassifier, simulate_comparisons
from skreward.datasets import make_preference_testbed

N_JOBS = (None, 1, 2, -1)


def load_average():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def measure(X_pairs, y, X_test, reps):
    times = {n_jobs: {"fit_s": [], "fit_cpu_s": [], "predict_s": []} for n_jobs in N_JOBS}
    rewards = {}
    for _ in range(reps):
        for n_jobs in N_JOBS:
            model = OrderConsistentClassifier(LGBMClassifier(verbose=-1, n_jobs=n_jobs))
            wall, cpu = time.perf_counter(), time.process_time()
            model.fit(X_pairs, y)
            times[n_jobs]["fit_s"].append(time.perf_counter() - wall)
            times[n_jobs]["fit_cpu_s"].append(time.process_time() - cpu)
            start = time.perf_counter()
            rewards[n_jobs] = model.decision_function(X_test)
            times[n_jobs]["predict_s"].append(time.perf_counter() - start)
    one = statistics.median(times[1]["fit_s"])
    return [{"n_jobs": n_jobs, **t, "fit_best_s": min(t["fit_s"]),
             "fit_median_s": statistics.median(t["fit_s"]), "fit_worst_s": max(t["fit_s"]),
             "fit_total_s": sum(t["fit_s"]),
             "fits_over_10x_n_jobs_1_median": sum(f > 10 * one for f in t["fit_s"]),
             "fit_ratio_to_n_jobs_1_median": statistics.median(t["fit_s"]) / one,
             "rank_correlation_with_n_jobs_1": float(spearmanr(rewards[n_jobs],
                                                               rewards[1]).statistic)}
            for n_jobs, t in times.items()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--n-pairs", type=int, default=10_000)
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1, 2],
                        help="spinning processes started alongside, per measurement")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    # The README's quickstart data.
    data = make_preference_testbed(random_state=0)
    sim = simulate_comparisons(data.golden, data.groups, n_pairs=args.n_pairs, beta=10,
                               pairing="cross_prompt", random_state=0)
    X_pairs = sim.take(data.X)

    load_before = load_average()
    rows = []
    for busy in args.busy:
        spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(busy)]
        try:
            time.sleep(0.5)
            load = load_average()
            for row in measure(X_pairs, sim.y, data.X_test, args.reps):
                rows.append({"busy_processes": busy, "load_average_at_start": load, **row})
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
        print(f"{busy} busy: done", flush=True)
    result = {
        "question": "OrderConsistentClassifier(LGBMClassifier(n_jobs=...)) fit time on the "
                    "README quickstart data, by n_jobs, in one process, with 0, 1, 2 "
                    "spinning processes alongside",
        "command": f"python benchmarks/bench_lightgbm_threads.py --reps {args.reps} "
                   f"--n-pairs {args.n_pairs} --busy {' '.join(map(str, args.busy))}",
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "usable_cpus": len(os.sched_getaffinity(0)),
                    "lightgbm": lightgbm.__version__,
                    "load_average_before": load_before, "load_average_after": load_average(),
                    "note": "shared machine: other processes ran during the measurement"},
        "data": {"n_pairs": args.n_pairs, "n_items": 2 * args.n_pairs,
                 "n_features": X_pairs.shape[2], "n_test_items": len(data.X_test)},
        "rows": rows,
    }
    output = Path(args.output) if args.output else (
        Path(__file__).parent / "results" / "lightgbm_threads.json")
    output.parent.mkdir(exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")

    print(f"\n{os.cpu_count()} CPUs, load average {load_before:.1f} -> {load_average():.1f}; "
          f"{args.n_pairs:,} comparisons ({2 * args.n_pairs:,} items x {X_pairs.shape[2]}), "
          f"{args.reps} interleaved rounds")
    print(f"{'busy':>4} {'n_jobs':>6} {'best s':>7} {'median s':>8} {'worst s':>8} "
          f"{'total s':>8} {'CPU s':>6} {'median / n_jobs=1':>17} {'>10x':>4}")
    for r in rows:
        print(f"{r['busy_processes']:>4} {str(r['n_jobs']):>6} {r['fit_best_s']:>7.2f} "
              f"{r['fit_median_s']:>8.2f} {r['fit_worst_s']:>8.2f} {r['fit_total_s']:>8.2f} "
              f"{min(r['fit_cpu_s']):>6.2f} {r['fit_ratio_to_n_jobs_1_median']:>17.2f} "
              f"{r['fits_over_10x_n_jobs_1_median']:>4}")
    print(">10x: rounds slower than 10 times the median fit of n_jobs=1 at the same load")
    print(f"\nwrote {output}")


if __name__ == "__main__":
    main()
