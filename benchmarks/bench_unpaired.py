"""Unpaired vs paired feedback: at equal annotation effort, which reward model picks better?

Question
--------
Unpaired feedback (a thumbs up or down per response) cannot train a
Bradley-Terry model, but it can train the classification reward model
(:class:`skreward.FeedbackClassifier`). At equal annotation effort, does the
classification model on thumbs labels pick better responses (Best-of-N,
fraction of the oracle's improvement over a random pick) than BT-MLP, CLF-MLP
and CLF-LGB fitted on comparisons?

Effort model
------------
A comparison shows the annotator two responses and asks one question; a
thumbs label shows one response and asks one question. A budget of ``B``
responses shown therefore buys ``B / 2`` comparisons or ``B`` thumbs labels
("equal responses shown", the main comparison: reading is the cost), and a
budget of ``B / 2`` judgements buys ``B / 2`` of either ("equal judgements").
Thumbs labels are drawn without replacement (each response at most once);
comparisons without replacement of pairs.

Annotation
----------
Comparisons: :func:`skreward.simulate_comparisons`, right with probability
``sigmoid(beta * |delta r| / std(r))``, pairs of one prompt (``same_prompt``)
or of any prompts (``cross_prompt``). Thumbs: :func:`skreward.simulate_feedback`,
good with probability ``sigmoid(beta * (r - t) / std(r))``, ``t`` the prompt's
mean golden reward (``prompt_mean``) or the mean of all (``global_mean``), so
``beta`` means the same in both. ``beta`` in {1, 10}.

Data
----
* **testbed**: :func:`skreward.datasets.make_preference_testbed`, 500 training
  prompts x 10 responses (64 features), 50 held-out prompts x 100 candidates;
  a fresh testbed per seed; ``B = 4000`` responses shown.
* **arena-bench**: ``arena_bench_v1_scored.jsonl.gz`` (GPT-4 grades as the
  golden reward) embedded with ``SentenceEmbedder(combine="concat")``
  (all-MiniLM-L6-v2, prompt and response: 768 features), cached in
  ``.skreward_cache/``; per seed a group split of 80% of the prompts for
  annotation, 20% held out, Best-of-N over all candidates of a held-out
  prompt; ``B = 3000`` responses shown (of about 3,800 training responses).

Models: the MLPs have one hidden layer of 256 units (not the paper's
1024 -> 512; the same small network in every model, so they differ only in
objective and labels), Adam, early stopping on 10% of the rows; CLF-LGB is
LightGBM with 200 trees (``n_jobs=1``). Every number is the mean and standard
deviation over 5 seeds (testbed: 5 testbeds; arena-bench: 5 splits), and
``vs BT`` is the mean of the per-seed difference from BT-MLP on same-prompt
comparisons at the same budget of responses shown, measured in the same run.

Results go to ``benchmarks/results/unpaired.json`` and a printed table. Run
from the repository root (about 10 minutes on two shared cores)::

    PYTHONPATH=. nice -n 10 python benchmarks/bench_unpaired.py
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from lightgbm import LGBMClassifier

from skreward import (BTRegressor, FeedbackClassifier, OrderConsistentClassifier,
                      RewardMLPClassifier, simulate_comparisons,
                      simulate_feedback)
from skreward.metrics import best_of_n_report

from _splits import arena_splits, testbed_splits  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(module__hidden_sizes=(256,))
LGB = dict(n_estimators=200, learning_rate=0.05, num_leaves=15, colsample_bytree=0.3,
           subsample=0.8, subsample_freq=1, verbose=-1, n_jobs=1)


def bt_mlp(seed):
    return BTRegressor(random_state=seed, **SMALL)


def clf_mlp(seed):
    return RewardMLPClassifier(random_state=seed, **SMALL)


def lgb(seed):
    return LGBMClassifier(random_state=seed, **LGB)


PAIRED = {"BT-MLP": bt_mlp,
          "CLF-MLP": lambda seed: OrderConsistentClassifier(clf_mlp(seed)),
          "CLF-LGB": lambda seed: OrderConsistentClassifier(lgb(seed))}
UNPAIRED = {"CLF-MLP": lambda seed: FeedbackClassifier(clf_mlp(seed)),
            "CLF-LGB": lambda seed: FeedbackClassifier(lgb(seed))}


def run(dataset, splits, budget, log):
    rows = []
    for seed, X, golden, groups, X_test, golden_test, groups_test in splits:
        def record(beta, feedback, design, model_name, model, X_fit, y_fit, labels, shown,
                   error_rate):
            start = time.perf_counter()
            model.fit(X_fit, y_fit)
            seconds = time.perf_counter() - start
            report = best_of_n_report(golden_test, model.decision_function(X_test), groups_test)
            rows.append(dict(dataset=dataset, seed=seed, beta=beta, feedback=feedback,
                             design=design, model=model_name, judgements=labels,
                             responses_shown=shown, error_rate=error_rate,
                             oracle_fraction=report.oracle_fraction,
                             improvement=report.improvement, seconds=seconds))
            log(f"  {dataset} seed {seed} beta={beta:g} {feedback:8s} {design:28s} "
                f"{model_name:8s} {report.oracle_fraction:6.3f} of oracle ({seconds:.1f} s)")

        for beta in (1.0, 10.0):
            n_pairs = budget // 2
            for pairing in ("same_prompt", "cross_prompt"):
                sim = simulate_comparisons(golden, groups, n_pairs=n_pairs, beta=beta,
                                           pairing=pairing, random_state=seed)
                for name, make in PAIRED.items():
                    record(beta, "paired", pairing, name, make(seed), sim.take(X), sim.y,
                           n_pairs, 2 * n_pairs, sim.error_rate)
            for threshold in ("prompt_mean", "global_mean"):
                for effort, n_labels in (("equal shown", budget), ("equal judgements", n_pairs)):
                    fb = simulate_feedback(golden, groups, n_items=n_labels, beta=beta,
                                           threshold=threshold, random_state=seed)
                    for name, make in UNPAIRED.items():
                        record(beta, "unpaired", f"{threshold}, {effort}", name, make(seed),
                               fb.take(X), fb.y, n_labels, n_labels, fb.error_rate)
    return rows


def summarise(frame):
    base = frame[(frame.feedback == "paired") & (frame.design == "same_prompt")
                 & (frame.model == "BT-MLP")].set_index(["dataset", "beta", "seed"])
    frame = frame.join(base["oracle_fraction"].rename("bt_same_prompt"),
                       on=["dataset", "beta", "seed"])
    frame["vs_bt"] = frame["oracle_fraction"] - frame["bt_same_prompt"]
    return (frame.groupby(["dataset", "beta", "feedback", "design", "model"], sort=False)
            .agg(judgements=("judgements", "first"), responses_shown=("responses_shown", "first"),
                 error_rate=("error_rate", "mean"), oracle_fraction=("oracle_fraction", "mean"),
                 oracle_fraction_std=("oracle_fraction", "std"), vs_bt=("vs_bt", "mean"),
                 vs_bt_std=("vs_bt", "std"), seconds=("seconds", "mean"))
            .reset_index())


def table(summary):
    lines = [f"{'data':8s} {'beta':>4s} {'feedback':8s} {'design':32s} {'model':8s} "
             f"{'shown':>5s} {'labels':>6s} {'err':>5s} {'oracle frac':>13s} {'vs BT':>13s}"]
    for r in summary.itertuples():
        lines.append(f"{r.dataset:8s} {r.beta:4g} {r.feedback:8s} {r.design:32s} {r.model:8s} "
                     f"{r.responses_shown:5d} {r.judgements:6d} {r.error_rate:5.3f} "
                     f"{r.oracle_fraction:6.3f}±{r.oracle_fraction_std:5.3f} "
                     f"{r.vs_bt:+6.3f}±{r.vs_bt_std:5.3f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--part", choices=["all", "testbed", "arena"], default="all")
    parser.add_argument("--cache", default=str(ROOT / ".skreward_cache"))
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "unpaired.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    start = time.perf_counter()
    rows = []
    if args.part in ("all", "testbed"):
        rows += run("testbed", testbed_splits(args.seeds), 4000, log)
    if args.part in ("all", "arena"):
        rows += run("arena", arena_splits(args.seeds, args.cache, log), 3000, log)
    summary = summarise(pd.DataFrame(rows))
    print(table(summary))
    result = dict(
        question="Best-of-N fraction of the oracle of the classification reward model on "
                 "unpaired thumbs labels vs BT-MLP, CLF-MLP and CLF-LGB on comparisons, at "
                 "equal annotation effort",
        effort=("a comparison shows 2 responses and is 1 judgement; a thumbs label shows 1 "
                "response and is 1 judgement. 'equal shown': B/2 comparisons vs B thumbs; "
                "'equal judgements': B/2 of each"),
        budgets={"testbed": 4000, "arena": 3000},
        machine=dict(platform=platform.platform(), python=platform.python_version(),
                     torch=torch.__version__, torch_threads=1,
                     note="two CPU cores shared with other jobs; fit times are indicative"),
        seconds=time.perf_counter() - start, seeds=args.seeds,
        summary=summary.to_dict("records"), runs=rows)
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {args.output} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
