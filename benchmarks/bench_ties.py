"""Ties: does a tie-aware Bradley-Terry model pick better than ties as soft labels or dropped?

Question
--------
When annotators may say "I cannot tell" (a tie), a reward model can learn
from ties in three ways: (a) the tie-aware Bradley-Terry model of Davidson
(:class:`skreward.TieAwareBTRegressor`, one learned tie parameter), (b) ties
as soft labels 0.5 in the plain Bradley-Terry loss (:class:`skreward.BTRegressor`),
(c) ties dropped (BT-MLP on the decided comparisons only, what TRL does).
Which picks better responses (Best-of-N, fraction of the oracle's improvement
over a random pick) at tie rates of about 10% and 30%?

Annotation
----------
:func:`skreward.simulate_comparisons` on same-prompt pairs, at ``beta`` in
{1, 10}, then ties declared by one of two mechanisms:

* ``threshold`` (the annotator cannot tell close items): a tie when
  ``|delta r| / std(r)`` is below a threshold, set per seed to the quantile of
  the drawn pairs' differences that gives the target tie rate;
* ``davidson``: ties drawn from Davidson's model (what (a) assumes) with the
  tie parameter solved per seed for the target tie rate on the drawn pairs.

The comparisons (pairs) are the same for every method, mechanism and tie
rate of one seed and ``beta``; the decided labels are the same as without
ties for ``threshold``. A reference row, ``forced choice``, fits BT-MLP on the
same pairs labelled without ties (the annotator made to choose). Effort: one
comparison is one judgement whether it ends in a tie or not, so every method
sees the same annotation budget.

Data
----
* **testbed**: :func:`skreward.datasets.make_preference_testbed`, 300 training
  prompts x 10 responses (64 features), 50 held-out prompts x 100 candidates;
  a fresh testbed per seed; 2,000 comparisons.
* **arena-bench**: ``arena_bench_v1_scored.jsonl.gz`` (GPT-4 grades as the
  golden reward) embedded with ``SentenceEmbedder(combine="concat")``, cached
  in ``.skreward_cache/``; per seed a group split of 80% of the prompts for
  annotation, 20% held out; 3,000 comparisons. Its golden rewards are
  integer grades, so some pairs are tied in the golden reward itself.

Models: one hidden layer of 256 units, Adam lr 1e-3, early stopping on 10% of
the comparisons, seeded. Numbers: mean and standard deviation over 20 seeds;
``vs soft`` is the mean per-seed difference from (b) in the same run.

Results go to ``benchmarks/results/ties.json`` and a printed table. Run from
the repository root (about 15 minutes on two shared cores)::

    PYTHONPATH=. nice -n 10 python benchmarks/bench_ties.py
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.optimize import brentq

from skreward import BTRegressor, TieAwareBTRegressor, simulate_comparisons
from skreward._tie_simulation import davidson_tie_probability
from skreward.metrics import best_of_n_report

from _splits import arena_splits, testbed_splits  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(module__hidden_sizes=(256,))
TIE_RATES = (0.1, 0.3)


def tie_setting(mechanism, rate, golden, pairs, beta):
    """``tie_threshold`` or ``tie_param`` that gives about ``rate`` ties on these pairs."""
    delta = np.abs(golden[pairs[:, 0]] - golden[pairs[:, 1]]) / np.std(golden)
    if mechanism == "threshold":
        # strictly below: the smallest threshold with at least `rate` of the pairs below it
        ordered = np.sort(delta)
        index = int(np.ceil(rate * len(ordered)))
        return dict(tie_threshold=float(np.nextafter(ordered[index - 1], np.inf)))
    d = beta * delta
    nu = brentq(lambda nu: davidson_tie_probability(d, nu).mean() - rate, 1e-6, 1e6)
    return dict(tie_param=float(nu))


def run(dataset, splits, n_pairs, mechanisms, log):
    rows = []
    for seed, X, golden, groups, X_test, golden_test, groups_test in splits:
        def record(**row):
            model, X_fit, y_fit = row.pop("model"), row.pop("X_fit"), row.pop("y_fit")
            start = time.perf_counter()
            model.fit(X_fit, y_fit)
            report = best_of_n_report(golden_test, model.decision_function(X_test), groups_test)
            rows.append(dict(dataset=dataset, seed=seed, **row,
                             oracle_fraction=report.oracle_fraction,
                             tie_param_fitted=getattr(model, "tie_param_", None),
                             seconds=time.perf_counter() - start))
            log(f"  {dataset} seed {seed} beta={row['beta']:g} {row['mechanism']:9s} "
                f"{row['target_tie_rate']:.1f} {row['method']:14s} "
                f"{report.oracle_fraction:6.3f} ({rows[-1]['seconds']:.1f} s)")

        for beta in (1.0, 10.0):
            plain = simulate_comparisons(golden, groups, n_pairs=n_pairs, beta=beta,
                                         random_state=seed)
            X_pairs = plain.take(X)
            record(beta=beta, mechanism="none", target_tie_rate=0.0, tie_rate=0.0,
                   decided_error_rate=plain.error_rate, setting=None, method="forced choice",
                   model=BTRegressor(random_state=seed, **SMALL), X_fit=X_pairs, y_fit=plain.y)
            for mechanism in mechanisms:
                for rate in TIE_RATES:
                    setting = tie_setting(mechanism, rate, golden, plain.pairs, beta)
                    sim = simulate_comparisons(golden, groups, n_pairs=n_pairs, beta=beta,
                                               random_state=seed, **setting)
                    assert np.array_equal(sim.pairs, plain.pairs)
                    common = dict(beta=beta, mechanism=mechanism, target_tie_rate=rate,
                                  tie_rate=sim.declared_tie_rate,
                                  decided_error_rate=sim.decided_error_rate,
                                  setting=next(iter(setting.values())))
                    decided = sim.y != 0.5
                    record(**common, method="tie-aware BT",
                           model=TieAwareBTRegressor(random_state=seed, **SMALL),
                           X_fit=X_pairs, y_fit=sim.y)
                    record(**common, method="soft 0.5",
                           model=BTRegressor(random_state=seed, **SMALL),
                           X_fit=X_pairs, y_fit=sim.y)
                    record(**common, method="drop ties",
                           model=BTRegressor(random_state=seed, **SMALL),
                           X_fit=X_pairs[decided], y_fit=sim.y[decided])
    return rows


def summarise(frame):
    keys = ["dataset", "beta", "mechanism", "target_tie_rate", "seed"]
    base = frame[frame.method == "soft 0.5"].set_index(keys)["oracle_fraction"]
    frame = frame.join(base.rename("soft"), on=keys)
    frame["vs_soft"] = frame["oracle_fraction"] - frame["soft"]
    return (frame.groupby(keys[:-1] + ["method"], sort=False)
            .agg(tie_rate=("tie_rate", "mean"), decided_error_rate=("decided_error_rate", "mean"),
                 oracle_fraction=("oracle_fraction", "mean"),
                 oracle_fraction_std=("oracle_fraction", "std"),
                 vs_soft=("vs_soft", "mean"), vs_soft_std=("vs_soft", "std"),
                 tie_param_fitted=("tie_param_fitted", "mean"), seconds=("seconds", "mean"))
            .reset_index())


def table(summary):
    lines = [f"{'data':8s} {'beta':>4s} {'ties by':9s} {'target':>6s} {'ties':>5s} {'err':>5s} "
             f"{'method':14s} {'oracle frac':>13s} {'vs soft 0.5':>13s} {'nu':>6s}"]
    for r in summary.itertuples():
        vs = "" if np.isnan(r.vs_soft) else f"{r.vs_soft:+6.3f}±{r.vs_soft_std:5.3f}"
        nu = "" if pd.isna(r.tie_param_fitted) else f"{r.tie_param_fitted:6.3f}"
        lines.append(f"{r.dataset:8s} {r.beta:4g} {r.mechanism:9s} {r.target_tie_rate:6.1f} "
                     f"{r.tie_rate:5.3f} {r.decided_error_rate:5.3f} {r.method:14s} "
                     f"{r.oracle_fraction:6.3f}±{r.oracle_fraction_std:5.3f} {vs:>13s} {nu:>6s}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--part", choices=["all", "testbed", "arena"], default="all")
    parser.add_argument("--mechanisms", nargs="+", choices=["threshold", "davidson"],
                        default=["threshold", "davidson"])
    parser.add_argument("--cache", default=str(ROOT / ".skreward_cache"))
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "ties.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    start = time.perf_counter()
    rows = []
    if args.part in ("all", "testbed"):
        rows += run("testbed", testbed_splits(args.seeds, n_prompts=300), 2000, args.mechanisms, log)
    if args.part in ("all", "arena"):
        rows += run("arena", arena_splits(args.seeds, args.cache, log), 3000, args.mechanisms, log)
    summary = summarise(pd.DataFrame(rows))
    print(table(summary))
    result = dict(
        question="Best-of-N fraction of the oracle of the tie-aware Bradley-Terry model "
                 "(Davidson) vs BT-MLP with ties as soft labels 0.5 vs BT-MLP with ties dropped, "
                 "at tie rates of about 10% and 30%",
        effort="one comparison is one judgement, tie or not: every method sees the same pairs",
        n_pairs={"testbed": 2000, "arena": 3000}, mechanisms=args.mechanisms,
        machine=dict(platform=platform.platform(), python=platform.python_version(),
                     torch=torch.__version__, torch_threads=1,
                     note="two CPU cores shared with other jobs; fit times are indicative"),
        seconds=time.perf_counter() - start, seeds=args.seeds,
        summary=summary.to_dict("records"), runs=rows)
    Path(args.output).write_text(json.dumps(result, indent=1, default=float) + "\n")
    log(f"wrote {args.output} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
