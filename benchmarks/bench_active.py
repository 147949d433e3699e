"""Active reward modelling: which pairs to annotate, and how fast can they be chosen?

Questions
---------
1. **Learning curves.** With a fixed labelling budget, does choosing the
   pairs (``skreward.active``) beat annotating random pairs? Best-of-N
   fraction of the oracle on held-out prompts against the number of labels,
   for every strategy (random, gap, ensemble disagreement, coreset,
   D-optimal, past-aware D-optimal), on the synthetic testbed and on
   arena-bench (all-MiniLM-L6-v2 prompt+response embeddings from the
   ``.skreward_cache``, reduced by PCA to 64 dimensions fitted on the
   training items), same- and cross-prompt pools, annotation quality beta 1
   and 10, several seeds. For each strategy: the labels it needs to reach
   random selection's final score (the saving in percent); where it never
   reaches it, it is worse than random and the table says so.
   The reward model of the loop is a linear BT (``OrderConsistentClassifier(
   LogisticRegression())``), fast enough for hundreds of refits on two shared
   cores; ``disagreement`` uses an ensemble of 5 bootstrapped linear BTs
   (``RewardEnsemble``), whose mean reward is the one evaluated.
2. **Speed and memory.** Greedy D-optimal selection of 1,000 pairs from
   1,000,000 candidates at d = 512 (items: 20,000 Gaussian embeddings, one
   isotropic set and one with a decaying spectrum), with ``M`` = ridge +
   the Fisher information of 2,000 labelled pairs (a full matrix, the
   past-aware case): time and peak traced memory, beside the dense
   ``(n, d, d)`` reference of the authors' code on a subset (same choices?
   time ratio), and the plain (non-lazy) greedy on a larger subset.

Results go to ``benchmarks/results/active.json``, the figure to
``benchmarks/results/active_learning_curves.png``, and tables are printed.
The machine is shared (2 cores, load average often 10-20 during these runs):
times are upper bounds of what a quiet machine gives.

Run from the repository root (each part writes its own key of the JSON)::

    nice -n 10 python benchmarks/bench_active.py --part speed
    nice -n 10 python benchmarks/bench_active.py --part testbed
    nice -n 10 python benchmarks/bench_active.py --part arena
    python benchmarks/bench_active.py --figure-only
"""

import argparse
import json
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit

from skreward import OrderConsistentClassifier
from skreward.active import STRATEGIES, simulate_active_annotation
from skreward.active._doptimal import (WhitenedPairs, dense_greedy_select, plain_greedy_select,
                                       prior_matrix)
from skreward.active._greedy import greedy_select
from skreward.metrics import best_of_n_report
from skreward.models import RewardEnsemble

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


# -- 1. learning curves ---------------------------------------------------------------

def linear_bt():
    return OrderConsistentClassifier(LogisticRegression(max_iter=1000))


def model_for(strategy):
    if strategy == "disagreement":
        return RewardEnsemble(linear_bt(), n_estimators=5, bootstrap=True, random_state=0)
    return linear_bt()


def testbed_data(seed):
    from skreward.datasets import make_preference_testbed
    data = make_preference_testbed(n_prompts=500, n_responses=10, n_test_prompts=50,
                                   n_candidates=100, random_state=seed)
    return data.X, data.golden, data.groups, data.X_test, data.golden_test, data.groups_test


def arena_data(seed, cache, data_dir):
    from skreward import SentenceEmbedder
    from skreward.datasets import load_scored_responses
    data = load_scored_responses(data_dir / "arena_bench_v1_scored.jsonl.gz")
    X = SentenceEmbedder(combine="concat", cache=cache).transform(data)
    golden = data["score"].to_numpy(dtype=float)
    groups = pd.factorize(data["group"])[0]
    train, test = next(GroupShuffleSplit(1, test_size=0.2, random_state=seed)
                       .split(X, groups=groups))
    pca = PCA(64, random_state=seed).fit(X[train])
    X = pca.transform(X)
    return X[train], golden[train], groups[train], X[test], golden[test], groups[test]


def run_curves(dataset, schedule, seeds, n_candidates, log, cache, data_dir):
    rows = []
    for seed in seeds:
        X, golden, groups, X_test, golden_test, groups_test = (
            testbed_data(seed) if dataset == "testbed" else arena_data(seed, cache, data_dir))
        for beta in (1.0, 10.0):
            for pool in ("same_prompt", "cross_prompt"):
                for strategy in STRATEGIES:
                    start = time.perf_counter()
                    rounds = simulate_active_annotation(
                        model_for(strategy), X, golden, groups, strategy=strategy,
                        n_labels=schedule, pool=pool, n_candidates=n_candidates, beta=beta,
                        random_state=seed)
                    for r in rounds:
                        reward = r.estimator.decision_function(X_test)
                        report = best_of_n_report(golden_test, reward, groups_test)
                        rows.append(dict(dataset=dataset, seed=seed, beta=beta, pool=pool,
                                         strategy=strategy, n_labels=r.n_labels,
                                         oracle_fraction=report.oracle_fraction,
                                         error_rate=r.error_rate))
                    log(f"{dataset} seed {seed} beta {beta:4} {pool:12s} {strategy:12s} "
                        f"final {rows[-1]['oracle_fraction']:.3f} "
                        f"({time.perf_counter() - start:.0f} s)")
    return rows


def labels_to_reach(labels, curve, target):
    """Labels from which a mean curve stays at or above ``target`` (log-linear between rounds).

    None when its last point is below: the strategy is worse than the target.
    """
    below = np.flatnonzero(np.asarray(curve) < target)
    if len(below) == 0:
        return float(labels[0])
    i = below[-1]
    if i == len(curve) - 1:
        return None
    lo, hi = np.log(labels[i]), np.log(labels[i + 1])
    t = (target - curve[i]) / (curve[i + 1] - curve[i])
    return float(np.exp(lo + t * (hi - lo)))


def summarise(rows):
    frame = pd.DataFrame(rows)
    curves = (frame.groupby(["dataset", "beta", "pool", "strategy", "n_labels"])["oracle_fraction"]
              .agg(["mean", "std", "count"]).reset_index())
    savings = []
    for (dataset, beta, pool), part in curves.groupby(["dataset", "beta", "pool"]):
        random = part[part.strategy == "random"].sort_values("n_labels")
        budget = int(random.n_labels.iloc[-1])
        target = float(random["mean"].iloc[-1])
        for strategy, curve in part.groupby("strategy"):
            curve = curve.sort_values("n_labels")
            needed = labels_to_reach(curve.n_labels.to_numpy(), curve["mean"].to_numpy(), target)
            savings.append(dict(
                dataset=dataset, beta=beta, pool=pool, strategy=strategy,
                final_mean=float(curve["mean"].iloc[-1]), final_std=float(curve["std"].iloc[-1]),
                random_final=target, labels_needed=needed,
                saving_percent=None if needed is None else 100 * (1 - needed / budget),
                worse_than_random=needed is None))
    return curves.to_dict("records"), savings


def figure(curves, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    frame = pd.DataFrame(curves)
    panels = list(frame.groupby(["dataset", "pool", "beta"]).groups)
    fig, axes = plt.subplots(2, (len(panels) + 1) // 2, figsize=(4 * ((len(panels) + 1) // 2), 7),
                             squeeze=False)
    for ax, key in zip(axes.ravel(), panels):
        part = frame[(frame.dataset == key[0]) & (frame.pool == key[1]) & (frame.beta == key[2])]
        for strategy, curve in part.groupby("strategy"):
            curve = curve.sort_values("n_labels")
            ax.plot(curve.n_labels, curve["mean"], marker="o", ms=3, label=strategy)
            ax.fill_between(curve.n_labels, curve["mean"] - curve["std"],
                            curve["mean"] + curve["std"], alpha=0.12)
        ax.set_xscale("log")
        ax.set_title(f"{key[0]}, {key[1]}, beta={key[2]:g}", fontsize=9)
        ax.set_xlabel("labels")
        ax.set_ylabel("Best-of-N: fraction of oracle")
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# -- 2. speed -------------------------------------------------------------------------

def measure(function, *args):
    tracemalloc.start()
    start = time.perf_counter()
    out = function(*args)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, seconds, peak / 2 ** 20


def speed(log, n_candidates=1_000_000, n_items=20_000, d=512, n_select=1000,
          dense_n=400, dense_select=50, plain_n=100_000, plain_select=200, chunk_size=8192):
    results = []
    for spectrum in ("isotropic", "decaying"):
        rng = np.random.RandomState(0)
        F = rng.normal(size=(n_items, d))
        if spectrum == "decaying":
            F *= (1.0 + np.arange(d)) ** -0.5
        pairs = rng.randint(n_items, size=(n_candidates, 2))
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        w = rng.uniform(0.05, 0.25, len(pairs))
        labelled = rng.randint(n_items, size=(2000, 2))
        M = prior_matrix(F, pairs, w, 1.0, labelled, rng.uniform(0.05, 0.25, 2000), chunk_size)

        def lazy(F, pairs, w, M, k):
            return greedy_select(WhitenedPairs(F, pairs, M), w, k, chunk_size)[0]

        picks, seconds, peak = measure(lazy, F, pairs, w, M, n_select)
        row = dict(spectrum=spectrum, n_candidates=len(pairs), n_items=n_items, d=d,
                   n_select=n_select, lazy_seconds=seconds, lazy_peak_mib=peak,
                   chunk_size=chunk_size)
        log(f"{spectrum}: lazy greedy {n_select} of {len(pairs):,} at d={d}: {seconds:.1f} s, "
            f"peak {peak:.0f} MiB")
        sub = slice(0, plain_n)
        lazy_sub, t_lazy, _ = measure(lazy, F, pairs[sub], w[sub], M, plain_select)
        plain_sub, t_plain, p_plain = measure(plain_greedy_select, F, pairs[sub], w[sub], M,
                                              plain_select)
        row.update(plain_n=plain_n, plain_select=plain_select, plain_seconds=t_plain,
                   lazy_seconds_on_plain_subset=t_lazy,
                   plain_identical=bool(np.array_equal(lazy_sub, plain_sub)))
        log(f"  plain greedy {plain_select} of {plain_n:,}: {t_plain:.1f} s vs lazy "
            f"{t_lazy:.1f} s; identical picks: {row['plain_identical']}")
        sub = slice(0, dense_n)
        lazy_small, t_lazy, p_lazy = measure(lazy, F, pairs[sub], w[sub], M, dense_select)
        dense_small, t_dense, p_dense = measure(dense_greedy_select, F, pairs[sub], w[sub], M,
                                                dense_select)
        row.update(dense_n=dense_n, dense_select=dense_select, dense_seconds=t_dense,
                   dense_peak_mib=p_dense, lazy_seconds_on_dense_subset=t_lazy,
                   lazy_peak_mib_on_dense_subset=p_lazy, dense_ratio=t_dense / t_lazy,
                   dense_identical=bool(np.array_equal(lazy_small, dense_small)))
        log(f"  dense (n, d, d) reference {dense_select} of {dense_n}: {t_dense:.2f} s, "
            f"{p_dense:.0f} MiB vs lazy {t_lazy:.3f} s, {p_lazy:.0f} MiB "
            f"({row['dense_ratio']:.0f}x); identical picks: {row['dense_identical']}")
        results.append(row)
    return results


def print_tables(results):
    for row in results.get("speed", []):
        print(f"speed ({row['spectrum']}): {row['n_select']} of {row['n_candidates']:,} at "
              f"d={row['d']}: {row['lazy_seconds']:.1f} s, {row['lazy_peak_mib']:.0f} MiB | "
              f"dense subset {row['dense_ratio']:.0f}x slower, same picks "
              f"{row['dense_identical']} | plain greedy same picks {row['plain_identical']}")
    savings = [s for key in ("testbed", "arena") for s in results.get(key, {}).get("savings", [])]
    if savings:
        print(f"\n{'dataset':8s} {'pool':12s} {'beta':>4s} {'strategy':12s} {'final':>12s} "
              f"{'random':>7s} {'saving':>8s}")
        for s in savings:
            saving = ("worse than random" if s["worse_than_random"]
                      else f"{s['saving_percent']:7.0f}%")
            print(f"{s['dataset']:8s} {s['pool']:12s} {s['beta']:4g} {s['strategy']:12s} "
                  f"{s['final_mean']:.3f}+-{s['final_std']:.3f} {s['random_final']:7.3f} {saving}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["speed", "testbed", "arena"], action="append")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--schedule", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    parser.add_argument("--n-candidates", type=int, default=5000)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=ROOT / ".skreward_cache")
    parser.add_argument("--figure-only", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS / "active.json")
    args = parser.parse_args(argv)

    def log(message):
        print(message, flush=True)

    results = json.loads(args.output.read_text()) if args.output.exists() else {}
    results["machine"] = dict(platform=platform.platform(), python=sys.version.split()[0],
                              cpus=os.cpu_count(), load_average=os.getloadavg(),
                              note="shared machine: 2 cores used by several sessions at once")
    for part in ([] if args.figure_only else (args.part or ["speed", "testbed", "arena"])):
        start = time.perf_counter()
        if part == "speed":
            results["speed"] = speed(log)
        else:
            rows = run_curves(part, tuple(args.schedule), range(args.seeds), args.n_candidates,
                              log, args.cache, args.data)
            curves, savings = summarise(rows)
            results[part] = dict(schedule=args.schedule, seeds=args.seeds,
                                 n_candidates_per_round=args.n_candidates, model="linear BT",
                                 rows=rows, curves=curves, savings=savings,
                                 seconds=time.perf_counter() - start)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=1, default=float))
    curves = [c for key in ("testbed", "arena") for c in results.get(key, {}).get("curves", [])]
    if curves:
        figure(curves, args.output.parent / "active_learning_curves.png")
    print_tables(results)


if __name__ == "__main__":
    main()
