"""Rankings vs comparisons: at equal annotation effort, which reward model picks better?

Question
--------
An annotator can rank ``k`` responses at once instead of comparing two. At an
equal number of responses shown to annotators, does a reward model picks better
responses (Best-of-N, fraction of the oracle's improvement over a random pick)
when trained (a) on pairwise comparisons with the Bradley-Terry loss, (b) on
rankings of ``k = 3`` or ``4`` with the Plackett-Luce loss
(:class:`skreward.PlackettLuceRegressor`), or (c) on the same rankings broken
into all their pairs (:func:`skreward.ranking_to_pairs`) with the BT loss and
with the classification loss (CLF-MLP)?

Effort model
------------
Reading is the cost: a ranking of ``k`` shows ``k`` responses, a comparison 2.
A budget of ``B`` responses shown buys ``B / 2`` comparisons or ``B / k``
rankings of ``k`` (the ``k``-way judgement is counted as no costlier per
response than a comparison; a ranking of ``k`` holds ``k (k - 1) / 2`` pairs).

Annotation
----------
Comparisons: :func:`skreward.simulate_comparisons`, right with probability
``sigmoid(beta * |delta r| / std(r))``; rankings: :func:`skreward.simulate_rankings`,
Plackett-Luce with rewards ``beta * r / std(r)`` (Gumbel noise), whose every pair is
right with that same probability. Items of one prompt (``same_prompt``); ``beta`` in {1, 10}.

Data
----
* **testbed**: :func:`skreward.datasets.make_preference_testbed`, 500 training
  prompts x 10 responses (64 features), 50 held-out prompts x 100 candidates;
  a fresh testbed per seed; ``B = 4000`` responses shown.
* **arena-bench**: ``arena_bench_v1_scored.jsonl.gz`` (GPT-4 grades as the
  golden reward) embedded with ``SentenceEmbedder(combine="concat")``
  (all-MiniLM-L6-v2, 768 features), cached in ``.skreward_cache/``; per seed a
  group split of 80% of the prompts for annotation, 20% held out; rows with
  identical embeddings (the same response to the same prompt) are kept once;
  ``B = 3000`` responses shown.

Models: one hidden layer of 256 units in every model (they differ only in the
objective and the data), Adam, at most 30 epochs, early stopping on 10% of the
rows (rankings or pairs). Held-out pairs of a decomposed ranking share items and
outcomes with its training pairs, which makes the early-stopping loss optimistic;
"BT-MLP, grouped valid" holds out 10% of the rankings with all their pairs
instead (a ``train_split`` grouped by the ranking ids of ``ranking_to_pairs``).
Every number is the mean and standard deviation over the seeds (``--seeds``:
10 in ``results/rankings.json``; testbed: one testbed per seed, arena-bench:
one split per seed); ``vs pairs`` is the mean of the per-seed difference from
BT-MLP on comparisons at the same budget, measured in the same run.

Results go to ``benchmarks/results/rankings.json`` and a printed table. Run
from the repository root (about 6 minutes for 10 seeds on two shared cores)::

    PYTHONPATH=. nice -n 10 python benchmarks/bench_rankings.py --seeds 10
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from sklearn.model_selection import GroupShuffleSplit

from skreward import (BTRegressor, OrderConsistentClassifier, PlackettLuceRegressor,
                      RewardMLPClassifier, ranking_to_pairs,
                      simulate_comparisons, simulate_rankings)
from skreward.metrics import best_of_n_report

from _splits import arena_splits, testbed_splits  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(module__hidden_sizes=(256,), max_epochs=30)


def ranking_split(ids, seed):
    """A skorch ``train_split`` that holds out 10% of the rankings with all their pairs."""
    def split(dataset, y=None, **fit_params):
        train, valid = next(GroupShuffleSplit(1, test_size=0.1, random_state=seed).split(
            ids, groups=ids))
        return dataset.take(train), dataset.take(valid)
    return split


def run(dataset, splits, budget, log):
    rows = []
    for seed, X, golden, groups, X_test, golden_test, groups_test in splits:
        def record(beta, data, k, model_name, model, X_fit, y_fit, n_units, error_rate):
            start = time.perf_counter()
            model.fit(X_fit, y_fit)
            seconds = time.perf_counter() - start
            report = best_of_n_report(golden_test, model.decision_function(X_test), groups_test)
            rows.append(dict(dataset=dataset, seed=seed, beta=beta, data=data, k=k,
                             model=model_name, annotations=n_units, rows=len(X_fit),
                             responses_shown=n_units * k, error_rate=error_rate,
                             oracle_fraction=report.oracle_fraction, seconds=seconds))
            log(f"  {dataset} seed {seed} beta={beta:g} {data:10s} k={k} {model_name:21s} "
                f"{report.oracle_fraction:6.3f} of oracle ({seconds:.1f} s)")

        for beta in (1.0, 10.0):
            n_pairs = budget // 2
            sim = simulate_comparisons(golden, groups, n_pairs=n_pairs, beta=beta,
                                       random_state=seed)
            record(beta, "pairs", 2, "BT-MLP", BTRegressor(random_state=seed, **SMALL),
                   sim.take(X), sim.y, n_pairs, sim.error_rate)
            record(beta, "pairs", 2, "CLF-MLP",
                   OrderConsistentClassifier(RewardMLPClassifier(random_state=seed, **SMALL)),
                   sim.take(X), sim.y, n_pairs, sim.error_rate)
            for k in (3, 4):
                n_rankings = budget // k
                ranks = simulate_rankings(golden, groups, n_rankings=n_rankings, k=k, beta=beta,
                                          random_state=seed)
                X_rank = ranks.take(X)
                record(beta, "rankings", k, "PL-MLP",
                       PlackettLuceRegressor(random_state=seed, **SMALL), X_rank, None,
                       n_rankings, ranks.error_rate)
                X_pairs, y_pairs, ids = ranking_to_pairs(X_rank, scheme="all_pairs")
                record(beta, "all pairs", k, "BT-MLP", BTRegressor(random_state=seed, **SMALL),
                       X_pairs, y_pairs, n_rankings, ranks.error_rate)
                record(beta, "all pairs", k, "BT-MLP, grouped valid",
                       BTRegressor(random_state=seed, train_split=ranking_split(ids, seed),
                                   **SMALL),
                       X_pairs, y_pairs, n_rankings, ranks.error_rate)
                record(beta, "all pairs", k, "CLF-MLP",
                       OrderConsistentClassifier(RewardMLPClassifier(random_state=seed, **SMALL)),
                       X_pairs, y_pairs, n_rankings, ranks.error_rate)
    return rows


def summarise(frame):
    base = frame[(frame.data == "pairs") & (frame.model == "BT-MLP")].set_index(
        ["dataset", "beta", "seed"])
    frame = frame.join(base["oracle_fraction"].rename("bt_pairs"), on=["dataset", "beta", "seed"])
    frame["vs_pairs"] = frame["oracle_fraction"] - frame["bt_pairs"]
    return (frame.groupby(["dataset", "beta", "data", "k", "model"], sort=False)
            .agg(annotations=("annotations", "first"), rows=("rows", "first"),
                 responses_shown=("responses_shown", "first"),
                 error_rate=("error_rate", "mean"), oracle_fraction=("oracle_fraction", "mean"),
                 oracle_fraction_std=("oracle_fraction", "std"), vs_pairs=("vs_pairs", "mean"),
                 vs_pairs_std=("vs_pairs", "std"), seconds=("seconds", "mean"))
            .reset_index())


def table(summary):
    lines = [f"{'data':8s} {'beta':>4s} {'annotation':10s} {'k':>2s} {'model':21s} "
             f"{'shown':>5s} {'units':>5s} {'rows':>5s} {'err':>5s} {'oracle frac':>13s} "
             f"{'vs pairs':>13s}"]
    for r in summary.itertuples():
        lines.append(f"{r.dataset:8s} {r.beta:4g} {r.data:10s} {r.k:2d} {r.model:21s} "
                     f"{r.responses_shown:5d} {r.annotations:5d} {r.rows:5d} {r.error_rate:5.3f} "
                     f"{r.oracle_fraction:6.3f}±{r.oracle_fraction_std:5.3f} "
                     f"{r.vs_pairs:+6.3f}±{r.vs_pairs_std:5.3f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--part", choices=["all", "testbed", "arena"], default="all")
    parser.add_argument("--cache", default=str(ROOT / ".skreward_cache"))
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "rankings.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    start = time.perf_counter()
    rows = []
    if args.part in ("all", "testbed"):
        rows += run("testbed", testbed_splits(args.seeds), 4000, log)
    if args.part in ("all", "arena"):
        rows += run("arena", arena_splits(args.seeds, args.cache, log, distinct=True), 3000, log)
    summary = summarise(pd.DataFrame(rows))
    print(table(summary))
    result = dict(
        question="Best-of-N fraction of the oracle of reward models trained on pairwise "
                 "comparisons (BT), on rankings of k=3 and 4 (Plackett-Luce), and on the same "
                 "rankings broken into all pairs (BT, CLF-MLP), at equal responses shown",
        effort="a ranking of k shows k responses, a comparison 2: a budget of B responses "
               "shown buys B/2 comparisons or B/k rankings",
        budgets={"testbed": 4000, "arena": 3000},
        machine=dict(platform=platform.platform(), python=platform.python_version(),
                     torch=torch.__version__, torch_threads=1,
                     note="two CPU cores shared with eight other jobs; fit times are indicative"),
        seconds=time.perf_counter() - start, seeds=args.seeds,
        summary=summary.to_dict("records"), runs=rows)
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {args.output} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
