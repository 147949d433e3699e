"""CLF-MLP and BT-MLP at defaults vs a plain loop and the authors' recipe under label noise.

Question
--------
Is either neural reward model, at the library's defaults, below the same
network trained by a plain PyTorch loop, in any cell of noise x data size x
pairing, on the synthetic testbed and on arena-bench? And how do both
compare with the paper authors' training recipe?

Models (the network is the default :class:`skreward.RewardMLP`, 1024 -> 512
-> 1 ReLU, in every row):

* ``BT-MLP lib``, ``CLF-MLP lib``: ``BTRegressor()`` and
  ``OrderConsistentClassifier(RewardMLPClassifier())`` at defaults: 10% of
  the comparisons held out, early stopping (patience 5) on their loss (for
  CLF-MLP the classification loss of their rows), best epoch restored;
* ``CLF-MLP before``: CLF-MLP as it was before issue 18: 10% of the *items*
  held out (the two items of a comparison on either side), early stopping
  on the held-out items' classification loss;
* candidate monitors not adopted (``benchmarks/_clf_candidates.py``), in
  the cells of the first two seeds at 2,000 and 6,000 comparisons only
  (``--add-candidate``): ``CLF-MLP difference loss`` (the held-out
  comparisons' logistic loss of their reward differences, as BT-MLP) and
  ``CLF-MLP rescaled difference loss`` (the same at the best rescaling of
  the differences: the order alone);
* ``BT plain``, ``CLF plain``: a plain loop, 15 epochs, Adam 1e-3, 512
  comparisons per batch, no validation, no early stopping;
* ``BT authors``, ``CLF authors`` (cross-prompt cells only, the authors'
  protocol): the runner's ``authors-*`` recipe, 80/20 split, batches of
  10,000, at most 30 epochs, patience 3.

Grid: testbed (:func:`skreward.datasets.make_preference_testbed`, 500 prompts
x 10 responses, 64 features, 50 test prompts x 100 candidates; a fresh one
per seed) and arena-bench (all-MiniLM-L6-v2 prompt + response embeddings,
768-d; 80/20 split by prompt per seed), ``beta`` in {0.3, 1, 3, 10},
2,000 / 6,000 / 20,000 comparisons, same- and cross-prompt pairing. The
score is the exact Best-of-N fraction of the oracle's gain over a random
pick, N = 16 (on arena-bench, the smallest test prompt's count if below 16: 13-15).

The cells run most-informative first and are appended to a JSONL file as
they finish (``--resume`` continues one): two seeds of the smaller sizes,
one of 20,000, the other seeds of the smaller sizes, then of 20,000.
``--max-seconds`` stops launching new cells; the summary reports the seeds
each cell got.

Run from the repository root (two worker processes). The committed results
(5 seeds at 2,000 and 6,000 comparisons, 1 at 20,000) took about two hours
on two shared cores, in several ``--resume`` pieces; the remaining 20,000
cells would take several more::

    PYTHONPATH=. nice -n 10 python benchmarks/bench_clf_noise_grid.py --max-seconds 3600
    PYTHONPATH=. python benchmarks/bench_clf_noise_grid.py --summarise-only

Writes ``benchmarks/results/clf_noise_grid.jsonl`` (one row per fit) and
``clf_noise_grid.json`` (means, spreads, and the check "lib is not below its
plain loop by more than the spread over seeds"), and prints the tables.
"""

import argparse
import importlib
import json
import os
import platform
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed

from skreward import (BTRegressor, OrderConsistentClassifier, RewardMLPClassifier,
                      simulate_comparisons)
from skreward.metrics import best_of_n_report

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _splits import arena_splits, testbed_splits  # noqa: E402
from _clf_candidates import HeldOutComparisonsClassifier  # noqa: E402
from bench_clf_noise import item_split, plain_loop  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
HIDDEN = (1024, 512)
AUTHORS = dict(lr=1e-3, max_epochs=30, validation_fraction=0.2, patience=3, batch_size=10000)
CACHE = os.environ.get("SKREWARD_BENCH_CACHE", str(ROOT / ".skreward_cache"))


@lru_cache(maxsize=None)
def split_of(dataset, seed):
    """One seed's (X, golden, groups, X_test, golden_test, groups_test), built once per worker."""
    quiet = lambda message: None  # noqa: E731
    splits = testbed_splits(seed + 1) if dataset == "testbed" else arena_splits(seed + 1, CACHE,
                                                                                quiet)
    for index, *arrays in splits:
        if index == seed:
            return tuple(arrays)


def models(seed, pairing, candidate=False):
    clf = lambda **kw: OrderConsistentClassifier(RewardMLPClassifier(  # noqa: E731
        random_state=seed, module__hidden_sizes=HIDDEN, **kw))
    made = {
        "BT-MLP lib": BTRegressor(random_state=seed, module__hidden_sizes=HIDDEN),
        "CLF-MLP lib": clf(),
        "CLF-MLP before": clf(train_split=item_split(seed)),
    }
    if candidate:
        made["CLF-MLP difference loss"] = OrderConsistentClassifier(HeldOutComparisonsClassifier(
            random_state=seed, module__hidden_sizes=HIDDEN))
        made["CLF-MLP rescaled difference loss"] = OrderConsistentClassifier(
            HeldOutComparisonsClassifier(rescaled=True, random_state=seed,
                                         module__hidden_sizes=HIDDEN))
    if pairing == "cross_prompt":
        made["BT-MLP authors"] = BTRegressor(random_state=seed, module__hidden_sizes=HIDDEN,
                                             **AUTHORS)
        made["CLF-MLP authors"] = clf(**AUTHORS)
    return made


def run_cell(dataset, seed, beta, pairing, n_pairs, candidate=False, skip=()):
    """The models of one cell (all but ``skip``): a list of result rows."""
    torch.set_num_threads(1)
    X, golden, groups, X_test, golden_test, groups_test = split_of(dataset, seed)
    sim = simulate_comparisons(golden, groups, n_pairs=n_pairs, beta=beta, pairing=pairing,
                               random_state=seed)
    X_fit, y_fit = sim.take(X), np.asarray(sim.y, dtype=float)
    cell = dict(dataset=dataset, seed=seed, beta=beta, pairing=pairing, n_pairs=n_pairs,
                error_rate=float(sim.error_rate))
    rows = []

    n = min(16, int(np.bincount(groups_test)[np.unique(groups_test)].min()))

    def record(name, rewards, seconds, epochs, best_epoch):
        report = best_of_n_report(golden_test, rewards, groups_test, n=n)
        rows.append(dict(cell, model=name, best_of=n,
                         oracle_fraction=float(report.oracle_fraction),
                         epochs=int(epochs), best_epoch=int(best_epoch), seconds=seconds))

    for name, model in models(seed, pairing, candidate).items():
        if name in skip:
            continue
        start = time.perf_counter()
        model.fit(X_fit, y_fit)
        seconds = time.perf_counter() - start
        net = getattr(model, "estimator_", model)
        monitor = dict(net.callbacks_)["early_stopping"].monitor
        best = [h["epoch"] for h in net.history_ if h.get(f"{monitor}_best")]
        record(name, model.decision_function(X_test), seconds, len(net.history_), best[-1])
    for kind, name in (("bt", "BT-MLP plain"), ("clf", "CLF-MLP plain")):
        if name in skip:
            continue
        start = time.perf_counter()
        net = plain_loop(kind, X_fit, y_fit, HIDDEN, seed)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            rewards = net(torch.as_tensor(X_test, dtype=torch.float32)).numpy().astype(float)
        record(name, rewards, seconds, 15, 15)
    return rows


def cells(seeds, sizes):
    """Cells in the order they run: the small sizes for two seeds, the largest size for one,
    the small sizes for the other seeds, then the largest size for the other seeds."""
    small, large = [n for n in sizes if n < max(sizes)], [max(sizes)]
    phases = [(range(min(2, seeds)), small), (range(min(1, seeds)), large),
              (range(2, seeds), small), (range(1, seeds), large)]
    return [(dataset, seed, beta, pairing, n_pairs)
            for seed_range, phase_sizes in phases for seed in seed_range
            for n_pairs in phase_sizes for dataset in ("testbed", "arena")
            for beta in (0.3, 1.0, 3.0, 10.0) for pairing in ("same_prompt", "cross_prompt")]


def summarise(frame):
    keys = ["dataset", "pairing", "beta", "n_pairs"]
    summary = (frame.groupby(keys + ["model"])
               .agg(seeds=("seed", "nunique"), error_rate=("error_rate", "mean"),
                    oracle_fraction=("oracle_fraction", "mean"),
                    oracle_fraction_std=("oracle_fraction", "std"),
                    epochs=("epochs", "mean"), best_epoch=("best_epoch", "mean"),
                    seconds=("seconds", "mean"))
               .reset_index())
    checks = []
    for key, part in summary.groupby(keys):
        by_model = part.set_index("model")
        for kind in ("BT", "CLF"):
            lib, plain = f"{kind}-MLP lib", f"{kind}-MLP plain"
            if lib not in by_model.index or plain not in by_model.index:
                continue
            a, b = by_model.loc[lib], by_model.loc[plain]
            spread = float(np.nanmax([a.oracle_fraction_std, b.oracle_fraction_std, 0.0]))
            gap = float(a.oracle_fraction - b.oracle_fraction)
            checks.append(dict(zip(keys, key), model=f"{kind}-MLP", seeds=int(a.seeds),
                               lib=float(a.oracle_fraction), plain=float(b.oracle_fraction),
                               lib_minus_plain=gap, spread=spread,
                               below_by_more_than_spread=bool(gap < -spread)))
    return summary, pd.DataFrame(checks)


def table(summary):
    wide = summary.pivot_table(index=["dataset", "pairing", "beta", "n_pairs"], columns="model",
                               values="oracle_fraction")
    spread = summary.pivot_table(index=["dataset", "pairing", "beta", "n_pairs"],
                                 columns="model", values="oracle_fraction_std",
                                 dropna=False).reindex(wide.index)
    seeds = summary.groupby(["dataset", "pairing", "beta", "n_pairs"])["seeds"].max()
    names = [m for m in ("BT-MLP lib", "BT-MLP plain", "BT-MLP authors", "CLF-MLP lib",
                         "CLF-MLP before", "CLF-MLP difference loss",
                         "CLF-MLP rescaled difference loss",
                         "CLF-MLP plain", "CLF-MLP authors") if m in wide]
    lines = ["dataset pairing      beta  pairs seeds " + " ".join(f"{m:>16s}" for m in names)]
    for index, row in wide.iterrows():
        cells_ = []
        for m in names:
            value, std = row.get(m), spread.loc[index].get(m)
            cells_.append(f"{'':>16s}" if pd.isna(value) else
                          f"{value:8.3f}±{0 if pd.isna(std) else std:5.3f}  ")
        dataset, pairing, beta, n_pairs = index
        lines.append(f"{dataset:7s} {pairing:12s} {beta:4g} {n_pairs:6d} {seeds[index]:5d} "
                     + " ".join(cells_))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 6000, 20000])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=float("inf"))
    parser.add_argument("--resume", action="store_true",
                        help="keep the JSONL's rows; fit only the models a cell lacks")
    parser.add_argument("--add-candidate", action="store_true",
                        help="also fit the candidate monitors 'CLF-MLP difference loss' and "
                             "'CLF-MLP rescaled difference loss'")
    parser.add_argument("--summarise-only", action="store_true")
    parser.add_argument("--output", default=str(RESULTS / "clf_noise_grid.json"))
    args = parser.parse_args(argv)
    raw = Path(args.output).with_suffix(".jsonl")
    start = time.perf_counter()
    if not args.summarise_only:
        done = {}  # the models already fitted in each cell
        if args.resume and raw.exists():
            for r in map(json.loads, raw.read_text().splitlines()):
                key = (r["dataset"], r["seed"], r["beta"], r["pairing"], r["n_pairs"])
                done.setdefault(key, set()).add(r["model"])
        elif raw.exists():
            raw.unlink()
        wanted = {"CLF-MLP lib"} | ({"CLF-MLP difference loss", "CLF-MLP rescaled difference loss"}
                                   if args.add_candidate else set())
        todo = [c for c in cells(args.seeds, args.sizes) if not wanted <= done.get(c, set())]

        # By reference (not __main__'s copy), so each worker keeps its split_of cache.
        worker = importlib.import_module("bench_clf_noise_grid").run_cell

        def jobs():
            for cell in todo:
                if time.perf_counter() - start > args.max_seconds:
                    print(f"--max-seconds reached: {len(todo)} cells not all launched",
                          file=sys.stderr)
                    return
                yield delayed(worker)(*cell, candidate=args.add_candidate,
                                      skip=tuple(done.get(cell, ())))

        with raw.open("a") as out:
            for rows in Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(jobs()):
                for row in rows:
                    out.write(json.dumps(row) + "\n")
                out.flush()
                if not rows:
                    continue
                r = rows[0]
                print(f"{time.perf_counter() - start:6.0f} s  {r['dataset']} seed {r['seed']} "
                      f"beta={r['beta']:g} {r['pairing']} n={r['n_pairs']}: " + ", ".join(
                          f"{x['model']} {x['oracle_fraction']:.2f}" for x in rows),
                      file=sys.stderr, flush=True)
    frame = pd.DataFrame([json.loads(line) for line in raw.read_text().splitlines()])
    summary, checks = summarise(frame)
    print(table(summary))
    failing = checks[checks.below_by_more_than_spread]
    print(f"\ncells where lib is below its plain loop by more than the spread: {len(failing)} "
          f"of {len(checks)}")
    if len(failing):
        print(failing.to_string(index=False))
    result = dict(
        question=__doc__.splitlines()[0],
        settings=dict(seeds=args.seeds, sizes=args.sizes, hidden_sizes=list(HIDDEN),
                      betas=[0.3, 1.0, 3.0, 10.0], pairings=["same_prompt", "cross_prompt"],
                      best_of_n="16 (arena-bench: the smallest test prompt's count, 13-15)",
                      authors=AUTHORS,
                      plain_loop="15 epochs, Adam 1e-3, 512 comparisons per batch, no "
                                 "validation, no early stopping"),
        machine=dict(platform=platform.platform(), python=platform.python_version(),
                     torch=torch.__version__, torch_threads=1, workers=args.n_jobs,
                     load_average=os.getloadavg()),
        fits=len(frame),
        summary=summary.to_dict("records"),
        checks=checks.to_dict("records"))
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
