"""Reward ensembles: do they pick better answers, and does their disagreement flag errors?

Questions
---------
a. **Ensembles vs one member.** Best-of-N fraction of the oracle's improvement
   of ``RewardEnsemble`` of 5 and 10 members against a single member, for
   BT-MLP (``BTRegressor``), CLF-MLP (``OrderConsistentClassifier(
   RewardMLPClassifier())``) and CLF-LGB (``OrderConsistentClassifier(
   LGBMClassifier())``), on the synthetic testbed and on arena-bench (GPT-4
   scores as golden reward, all-MiniLM-L6-v2 ``concat`` embeddings), mean
   and spread over seeds (testbed draws, arena-bench prompt splits).
b. **HH-RLHF harmless, heterogeneous ensemble as one estimator.** 5-fold
   accuracy (folds grouped by dialogue, as ``bench_real_data.py``) of
   ``RewardEnsemble([embedding pipeline, character TF-IDF pipeline])``:
   linear BT on the response's sentence embedding plus linear BT on character
   2-5-gram TF-IDF through ``TextVectorizer``. By hand, the same ensemble
   reached 0.652 (fixed C) and 0.653 (C by inner CV); the issue's goal is 0.68.
c. **Best-of-N curve, N = 2..500, on the testbed** (500 candidates per test
   prompt) for mean, min and conservative (mean - 1 std) aggregation of 10
   members and for one member: does conservatism help at large N, where one
   model's errors get exploited?
d. **Uncertainty.** On held-out comparisons (random pairs of test items with
   different golden rewards), the ROC AUC with which the members'
   disagreement (the standard deviation over members of the reward margin)
   predicts that the ensemble's mean orders the pair against the golden
   reward; a constant predictor has 0.5. Beside it: the fraction of members
   whose margin has the other sign than the mean's (dissenting members),
   |mean margin| / std, and the ensemble's own confidence (small
   |mean margin|), which needs no ensemble.

Sizes are quick (two shared CPU cores): 1,000 simulated cross-prompt
comparisons at beta = 1; MLPs of one hidden layer of 64 units, batches of 256, at most 5
epochs (early stopping on 10%); LightGBM with 100 trees, subsample 0.8,
colsample 0.5 (so that seeds matter). The members of an ensemble differ by
``random_state`` only (no bootstrap), as in the paper's ensembles. The
ensembles of 1 and 5 are the first members of the ensemble of 10 (the
ensemble's seeds are drawn in order, so they are exactly what
``n_estimators=1`` and ``5`` fit).

Run from the repository root::

    PYTHONPATH=. nice -n 10 python benchmarks/bench_ensembles.py            # everything
    PYTHONPATH=. nice -n 10 python benchmarks/bench_ensembles.py --part b   # one part
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from lightgbm import LGBMClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, GroupShuffleSplit
from sklearn.pipeline import make_pipeline

from skreward import (BTRegressor, OrderConsistentClassifier, PairwiseTransformer,
                      RewardEnsemble, RewardMLPClassifier, SentenceEmbedder, TextVectorizer,
                      simulate_comparisons)
from skreward.datasets import load_hh_rlhf, load_scored_responses, make_preference_testbed
from skreward.metrics import best_of_n_curve, best_of_n_report

ROOT = Path(__file__).resolve().parents[1]
NET = dict(module__hidden_sizes=(64,), max_epochs=5, batch_size=256)
MODELS = {
    "BT-MLP": lambda: BTRegressor(**NET),
    "CLF-MLP": lambda: OrderConsistentClassifier(RewardMLPClassifier(**NET)),
    "CLF-LGB": lambda: OrderConsistentClassifier(LGBMClassifier(
        n_estimators=100, subsample=0.8, subsample_freq=1, colsample_bytree=0.5, n_jobs=1,
        verbose=-1)),
}
CURVE_NS = (2, 5, 10, 30, 50, 100, 300, 500)  # the paper's grid of N
K = 1.0  # conservative: mean - K * std


def log(message):
    print(message, flush=True)


# -- data ---------------------------------------------------------------------------------

def testbed_splits(seeds):
    """(seed, train X, golden, groups, test X, golden, groups) of the synthetic testbed."""
    for seed in seeds:
        d = make_preference_testbed(n_prompts=500, random_state=seed)  # 500 candidates/test prompt
        yield seed, (d.X, d.golden, d.groups), (d.X_test, d.golden_test, d.groups_test)


def arena_splits(data_dir, cache, seeds):
    data = load_scored_responses(data_dir / "arena_bench_v1_scored.jsonl.gz")
    X = SentenceEmbedder(combine="concat", cache=cache).transform(data).astype(np.float32)
    golden, groups = data["score"].to_numpy(float), pd.factorize(data["group"])[0]
    splits = GroupShuffleSplit(n_splits=max(seeds) + 1, test_size=0.2, random_state=0)
    for seed, (train, test) in enumerate(splits.split(X, groups=groups)):
        if seed in seeds:  # split `seed` of the same sequence, however the seeds are run
            yield seed, (X[train], golden[train], groups[train]), (X[test], golden[test],
                                                                  groups[test])


# -- a, c, d: ensembles of 10 on simulated annotations ------------------------------------

def fit_ensembles(dataset, splits, models, n_pairs, beta):
    """Per model and seed: member rewards of the test items (10, n_test), with the test data."""
    for seed, (X, golden, groups), test in splits:
        sim = simulate_comparisons(golden, groups, n_pairs=n_pairs, beta=beta,
                                   pairing="cross_prompt", random_state=seed)
        for name in models:
            start = time.perf_counter()
            ensemble = RewardEnsemble(MODELS[name](), n_estimators=10, random_state=seed)
            ensemble.fit(sim.take(X), sim.y)
            run = dict(dataset=dataset, model=name, seed=seed, test=test,
                       members=ensemble.member_rewards(test[0]),
                       seconds=time.perf_counter() - start)
            log(f"  {dataset:8s} seed {seed} {name:8s} 10 members fitted in "
                f"{run['seconds']:.0f} s")
            yield run


def aggregates(members):
    """Rewards of the ensembles compared: one member, mean of 5 and 10, min, conservative."""
    return {"1 member": members[0], "mean of 5": members[:5].mean(0),
            "mean of 10": members.mean(0), "min of 10": members.min(0),
            f"mean - {K:g} std of 10": members.mean(0) - K * members.std(0)}


def best_of_n_rows(runs, testbed_n):
    rows = []
    for run in runs:
        _, golden, groups = run["test"]
        n = testbed_n if run["dataset"] == "testbed" else None  # arena: all candidates
        for kind, reward in aggregates(run["members"]).items():
            report = best_of_n_report(golden, reward, groups, n=n, random_state=0)
            rows.append(dict(dataset=run["dataset"], model=run["model"], seed=run["seed"],
                             ensemble=kind, oracle_fraction=report.oracle_fraction,
                             improvement=report.improvement))
    return rows


def curve_rows(runs):
    rows = []
    for run in runs:
        if run["dataset"] != "testbed":
            continue
        _, golden, groups = run["test"]
        for kind, reward in aggregates(run["members"]).items():
            curve = best_of_n_curve(golden, reward, groups, ns=CURVE_NS, random_state=0)
            for n, fraction, golden_pick in zip(curve.n, curve.oracle_fraction, curve.golden):
                rows.append(dict(model=run["model"], seed=run["seed"], ensemble=kind, n=int(n),
                                 oracle_fraction=float(fraction), golden=float(golden_pick)))
    return rows


def uncertainty_rows(runs, n_pairs=4000):
    rows = []
    for run in runs:
        _, golden, _ = run["test"]
        rng = np.random.default_rng(run["seed"])
        a, b = rng.integers(len(golden), size=(2, n_pairs))
        keep = golden[a] != golden[b]
        a, b = a[keep], b[keep]
        margins = run["members"][:, a] - run["members"][:, b]  # (10, n_pairs)
        wrong = np.sign(margins.mean(0)) != np.sign(golden[a] - golden[b])
        spread = margins.std(0)
        confidence = np.abs(margins.mean(0))
        dissent = np.mean(np.sign(margins) != np.sign(margins.mean(0)), axis=0)  # members' vote
        rows.append(dict(dataset=run["dataset"], model=run["model"], seed=run["seed"],
                         n_pairs=int(len(a)), error_rate=float(wrong.mean()),
                         auc_disagreement=float(roc_auc_score(wrong, spread)),
                         auc_dissenting_members=float(roc_auc_score(wrong, dissent)),
                         auc_small_margin=float(roc_auc_score(wrong, -confidence)),
                         auc_margin_over_std=float(roc_auc_score(
                             wrong, -confidence / np.maximum(spread, 1e-12)))))
    return rows


def summarise(rows, by, values):
    """Mean, std and count (seeds that have it) of ``values`` per group of ``by``."""
    frame = pd.DataFrame(rows)
    summary = frame.groupby(by, sort=False)[[v for v in values if v in frame]].agg(
        ["mean", "std", "count"])
    summary.columns = [f"{v}_{s}" for v, s in summary.columns]
    summary["n_seeds"] = frame.groupby(by, sort=False).size()
    return summary.reset_index().to_dict("records")


# -- b: HH-RLHF ---------------------------------------------------------------------------

def linear_bt(C):
    return make_pipeline(PairwiseTransformer("difference"),
                         LogisticRegression(C=C, fit_intercept=False, max_iter=5000))


def linear_bt_cv():
    return make_pipeline(PairwiseTransformer("difference"), LogisticRegressionCV(
        Cs=[0.01, 0.03, 0.1, 0.3, 1, 3, 10], l1_ratios=(0.0,), scoring="neg_log_loss",
        fit_intercept=False, use_legacy_attributes=False, max_iter=5000))


def char_tfidf(max_features):
    return TextVectorizer(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                          sublinear_tf=True, min_df=2,
                                          max_features=max_features, dtype=np.float32))


def hh_ensembles(cache, max_features, inner_cv):
    embedding = SentenceEmbedder(combine="response", cache=str(cache))
    v = {f"linear BT (embedding, C=0.1) + linear BT (TF-IDF chars {max_features}, C=1)":
         [make_pipeline(embedding, linear_bt(0.1)),
          make_pipeline(char_tfidf(max_features), linear_bt(1.0))],
         "linear BT (embedding, C=0.1) + linear BT (TextVectorizer() LSA 256, C=1)":
         [make_pipeline(embedding, linear_bt(0.1)), make_pipeline(TextVectorizer(),
                                                                  linear_bt(1.0))]}
    if inner_cv:
        v[f"linear BT (embedding, inner CV) + linear BT (TF-IDF chars {max_features}, "
          "inner CV)"] = [make_pipeline(embedding, linear_bt_cv()),
                          make_pipeline(char_tfidf(max_features), linear_bt_cv())]
    return v


def bench_hh(data_dir, cache, max_features, inner_cv):
    data = load_hh_rlhf(data_dir / "hh_rlhf_harmless_base_test.jsonl.gz")
    groups = pd.factorize(data["prompt"])[0]
    folds = list(GroupKFold(5, shuffle=True, random_state=0).split(data, groups=groups))
    rows = []
    for name, members in hh_ensembles(cache, max_features, inner_cv).items():
        start = time.perf_counter()
        accuracy, member_accuracy = [], []
        for fold, (train, test) in enumerate(folds):
            # a pipeline of differences needs both labels: swap half the training pairs,
            # as bench_real_data.py does for these models
            swap = np.random.default_rng(fold).random(len(train)) < 0.5
            part = data.iloc[train]
            table = pd.DataFrame({"prompt": part["prompt"].to_numpy(),
                                  "chosen": np.where(swap, part["rejected"], part["chosen"]),
                                  "rejected": np.where(swap, part["chosen"], part["rejected"])})
            ensemble = RewardEnsemble(members, n_estimators=None).fit(table, np.where(swap, 0, 1))
            held_out = data.iloc[test]
            accuracy.append(ensemble.score(held_out))
            n = len(test)
            items = {"prompt": list(held_out["prompt"]) * 2,
                     "response": list(held_out["chosen"]) + list(held_out["rejected"])}
            rewards = ensemble.member_rewards(items)
            member_accuracy.append([float(np.mean(r[:n] > r[n:]) + 0.5 * np.mean(r[:n] == r[n:]))
                                    for r in rewards])
            log(f"  HH fold {fold}: {name[:70]} {accuracy[-1]:.3f} (members "
                f"{', '.join(f'{a:.3f}' for a in member_accuracy[-1])})")
        rows.append(dict(ensemble=name, accuracy=float(np.mean(accuracy)),
                         std=float(np.std(accuracy)), folds=[float(a) for a in accuracy],
                         member_accuracy=np.mean(member_accuracy, axis=0).tolist(),
                         seconds=time.perf_counter() - start))
        log(f"HH {name}: {rows[-1]['accuracy']:.3f} +- {rows[-1]['std']:.3f} "
            f"({rows[-1]['seconds']:.0f} s)")
    return dict(n_comparisons=len(data), by_hand={"fixed C": 0.652, "inner CV": 0.653},
                goal=0.68, cv="GroupKFold(5, shuffle=True, random_state=0) by dialogue context",
                rows=rows)


# -- report -------------------------------------------------------------------------------

def print_tables(results):
    if "best_of_n" in results:
        print("\n(a) Best-of-N fraction of the oracle, mean +- std over seeds")
        for r in results["best_of_n"]["summary"]:
            print(f"{r['dataset']:8s} {r['model']:8s} {r['ensemble']:18s} "
                  f"{r['oracle_fraction_mean']:.3f} +- {r['oracle_fraction_std']:.3f}")
    if "hh_rlhf" in results:
        h = results["hh_rlhf"]
        print(f"\n(b) HH-RLHF harmless 5-fold accuracy (by hand {h['by_hand']}, goal {h['goal']})")
        for r in h["rows"]:
            print(f"{r['ensemble'][:90]:90s} {r['accuracy']:.3f} +- {r['std']:.3f}  members "
                  f"{', '.join(f'{a:.3f}' for a in r['member_accuracy'])}")
    if "curve" in results:
        print("\n(c) Best-of-N curve on the testbed: oracle fraction, mean over seeds")
        frame = pd.DataFrame(results["curve"]["summary"])
        for model, part in frame.groupby("model", sort=False):
            table = part.pivot(index="ensemble", columns="n", values="oracle_fraction_mean")
            print(f"{model}\n{table.round(3).to_string()}")
    if "uncertainty" in results:
        print("\n(d) ROC AUC for 'the ensemble orders this held-out pair wrongly' (constant: 0.5)")
        for r in results["uncertainty"]["summary"]:
            print(f"{r['dataset']:8s} {r['model']:8s} error {r['error_rate_mean']:.3f}  "
                  f"disagreement {r['auc_disagreement_mean']:.3f} +- "
                  f"{r['auc_disagreement_std']:.3f}  dissenting members "
                  f"{r.get('auc_dissenting_members_mean', float('nan')):.3f}  small margin "
                  f"{r['auc_small_margin_mean']:.3f}  margin/std "
                  f"{r['auc_margin_over_std_mean']:.3f}")


def write(path, update):
    """Read the results file now, apply ``update(results)`` and write it back.

    Parts run in separate processes share the file: each keeps what the others wrote.
    """
    results = json.loads(path.read_text()) if path.exists() else {}
    update(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(results, indent=1, default=float))
    partial.replace(path)  # atomic: a stopped run never leaves half a file
    return results


def ensemble_parts(runs, parts, settings, testbed_n):
    """``update`` of the results for parts a, c, d from the runs so far.

    Rows of the (data set, model, seed) fitted now replace those in the file;
    the others are kept, so that runs can go apart (in parallel, or a stopped
    run resumed from a seed).
    """
    done = {(r["dataset"], r["model"], r["seed"]) for r in runs}

    def keep(results, key, rows):
        old = results.get(key, {}).get("runs", [])
        return [r for r in old if (r.get("dataset", "testbed"), r["model"], r["seed"])
                not in done] + rows

    def update(results):
        if "a" in parts:
            rows = keep(results, "best_of_n", best_of_n_rows(runs, testbed_n))
            results["best_of_n"] = dict(
                settings | dict(best_of_n=f"testbed: N={testbed_n} of 500 candidates per "
                                "test prompt; arena-bench: all candidates (13-16) per prompt"),
                summary=summarise(rows, ["dataset", "model", "ensemble"],
                                  ["oracle_fraction", "improvement"]), runs=rows)
        if "c" in parts and any(d == "testbed" for d, _, _ in done):
            rows = keep(results, "curve", curve_rows(runs))
            results["curve"] = dict(settings | dict(ns=list(CURVE_NS), k=K),
                                    summary=summarise(rows, ["model", "ensemble", "n"],
                                                      ["oracle_fraction", "golden"]), runs=rows)
        if "d" in parts:
            rows = keep(results, "uncertainty", uncertainty_rows(runs))
            results["uncertainty"] = dict(
                settings | dict(pairs="random pairs of test items with different golden "
                                "rewards; wrong: the mean reward orders them against the "
                                "golden reward"),
                summary=summarise(rows, ["dataset", "model"],
                                  ["error_rate", "auc_disagreement", "auc_dissenting_members",
                                   "auc_small_margin", "auc_margin_over_std"]), runs=rows)
        fits = keep(results, "fit_seconds",
                    [{k: r[k] for k in ("dataset", "model", "seed", "seconds")} for r in runs])
        results["fit_seconds"] = dict(what="wall seconds to fit 10 members, shared machine",
                                      runs=fits)
    return update


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["a", "b", "c", "d"], action="append")
    parser.add_argument("--dataset", choices=["testbed", "arena"], action="append",
                        help="parts a and d: the data sets (default both)")
    parser.add_argument("--model", choices=list(MODELS), action="append")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=ROOT / ".skreward_cache")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="resume from this seed")
    parser.add_argument("--n-pairs", type=int, default=1000)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--testbed-n", type=int, default=16, help="N of part a on the testbed")
    parser.add_argument("--tfidf-features", type=int, default=100_000)
    parser.add_argument("--inner-cv", action="store_true", help="part b: also C by inner CV")
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "ensembles.json")
    args = parser.parse_args(argv)
    parts = set(args.part or ["a", "b", "c", "d"])
    datasets = args.dataset or ["testbed", "arena"]
    if parts & {"c"} and not parts & {"a", "d"}:
        datasets = ["testbed"]
    models = args.model or list(MODELS)
    machine = dict(platform=platform.platform(), python=sys.version.split()[0],
                   torch=torch.__version__, threads=torch.get_num_threads(),
                   cpus=os.cpu_count(), note="2 CPU cores shared with other jobs (load ~15-20)")
    results = write(args.output, lambda r: r.update(machine=machine))
    seeds = list(range(args.first_seed, args.seeds))
    settings = dict(n_pairs=args.n_pairs, beta=args.beta, pairing="cross_prompt",
                    seeds=list(range(args.seeds)),
                    net=str(NET), lightgbm="100 trees, subsample 0.8, colsample 0.5",
                    members="10, differing in random_state only")
    if parts & {"a", "c", "d"}:
        runs = []
        for dataset in datasets:
            splits = (testbed_splits(seeds) if dataset == "testbed"
                      else arena_splits(args.data, args.cache, seeds))
            for run in fit_ensembles(dataset, splits, models, args.n_pairs, args.beta):
                runs.append(run)  # results after every fit: a stopped run keeps its seeds
                results = write(args.output, ensemble_parts(runs, parts, settings,
                                                            args.testbed_n))
    if "b" in parts:
        hh = bench_hh(args.data, args.cache, args.tfidf_features, args.inner_cv)
        results = write(args.output, lambda r: r.update(hh_rlhf=hh))
    print_tables(results)


if __name__ == "__main__":
    main()
