"""Length bias: how much are reward models length meters, and what does length control cost?

Questions
---------
1. **How much does a reward model's reward follow response length?** The mean
   within-prompt Spearman correlation of the reward with the response's length
   in characters (``skreward.metrics.length_correlation``), beside the same
   correlation of the labels themselves (human choices on HH-RLHF, GPT-4
   scores on arena-bench): a reward that follows length more than its labels
   do has learned length as a shortcut.
2. **What does length control do to it, and at what cost?** Each reward model
   is fitted plain and inside ``LengthControlledReward`` (its log-length part,
   fitted on the training comparisons, removed), on the same comparisons.
   HH-RLHF harmless-base test (human labels): held-out pairwise accuracy,
   5-fold cross-validation. arena-bench (GPT-4 grades as golden reward):
   5,000 same-prompt comparisons simulated at beta = 10 on 80% of the prompts;
   Best-of-N with all candidates of the other 20% (improvement of the pick's
   score over the mean candidate, fraction of the oracle's improvement),
   several seeded prompt splits.
3. **Baseline:** "longest answer wins" (the reward is the length), which
   needs no model.

Reward models: a linear Bradley-Terry model (logistic regression without
intercept on ``x_a - x_b``) on two feature sets: the default offline
embedding of the response (all-MiniLM-L6-v2, ``SentenceEmbedder(combine=
"response")``) and TF-IDF of the response's words (1-2-grams) reduced to 256
dimensions (``TextVectorizer``, fitted on each training part's answers). Every
answer is kept, empty ones included (``drop_empty=False``,
``allow_empty=True``), so that Best-of-N sees every candidate.

Results go to ``benchmarks/results/length_bias.json`` and a printed table.
Embeddings are cached (``--cache``, default ``$SKREWARD_CACHE`` or
``/tmp/skreward_cache``): the first run embeds about 9,400 answers (15
minutes on two busy CPU cores), a rerun embeds nothing and takes about a
minute.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_length_bias.py
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
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit, KFold
from sklearn.pipeline import make_pipeline

from skreward import (LengthControlledReward, PairwiseTransformer, SentenceEmbedder,
                      TextVectorizer, simulate_comparisons)
from skreward.datasets import load_hh_rlhf, load_scored_responses
from skreward.metrics import (best_of_n_report, length_correlation, order_consistency_score,
                              response_lengths)

ROOT = Path(__file__).resolve().parents[1]
FEATURES = {"embedding": 0.1, "TF-IDF words (LSA 256)": 1.0}  # features -> C of the linear BT


def linear_bt(C):
    """Logistic regression without intercept on differences x_a - x_b: the linear BT."""
    return make_pipeline(PairwiseTransformer("difference"),
                         LogisticRegression(C=C, fit_intercept=False, max_iter=5000))


def tfidf_lsa():
    return TextVectorizer(make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=100_000,
                        dtype=np.float32),
        TruncatedSVD(256, random_state=0)), allow_empty=True)


def with_length(X, lengths):
    """Features with the length as their last column (what LengthControlledReward reads)."""
    return np.concatenate([X, lengths[..., None].astype(X.dtype)], axis=-1)


def fit_both(C, X_pairs, y, lengths_pairs):
    """The plain linear BT and the length-controlled one, fitted on the same comparisons."""
    plain = linear_bt(C).fit(X_pairs, y)
    controlled = LengthControlledReward(linear_bt(C)).fit(with_length(X_pairs, lengths_pairs), y)
    return plain, controlled


def swapped(n, rng):
    """Half of the comparisons swapped, so that chosen-first data has labels of both kinds."""
    return rng.random(n) < 0.5


# -- 1. HH-RLHF -----------------------------------------------------------------------

def bench_hh(data_dir, embedder, n_folds, log):
    data = load_hh_rlhf(data_dir / "hh_rlhf_harmless_base_test.jsonl.gz", drop_empty=False)
    t = time.perf_counter()
    embedding = embedder.transform(data[["prompt", "chosen", "rejected"]])
    embed_seconds = time.perf_counter() - t
    log(f"HH-RLHF: {len(data)} comparisons, answers embedded in {embed_seconds:.0f} s")
    lengths = np.column_stack([response_lengths(data["chosen"]),
                               response_lengths(data["rejected"])])
    swap = swapped(len(data), np.random.default_rng(0))
    y = np.where(swap, 0, 1)
    rows = []

    def record(fold, model, features, reward, test):
        diff = reward[:, 0] - reward[:, 1]
        rows.append(dict(fold=fold, model=model, features=features,
                         accuracy=order_consistency_score(None, diff),
                         length_correlation=length_correlation(
                             lengths[test].ravel(), reward.ravel(),
                             np.repeat(np.arange(len(test)), 2))))

    for fold, (train, test) in enumerate(KFold(n_folds, shuffle=True,
                                               random_state=0).split(data)):
        record(fold, "longest answer wins", "length", np.log1p(lengths[test]), test)
        record(fold, "labels (chosen = 1)", "-", np.tile([1.0, 0.0], (len(test), 1)), test)
        vectors = {"embedding": embedding,
                   "TF-IDF words (LSA 256)": tfidf_lsa().fit(data.iloc[train]).transform(data)}
        for features, C in FEATURES.items():
            X = vectors[features]
            X_train = np.where(swap[train, None, None], X[train, ::-1], X[train])
            L_train = np.where(swap[train, None], lengths[train, ::-1], lengths[train])
            t = time.perf_counter()
            plain, controlled = fit_both(C, X_train, y[train], L_train)
            items = X[test].reshape(-1, X.shape[2])
            record(fold, "linear BT", features,
                   plain.decision_function(items).reshape(-1, 2), test)
            record(fold, "linear BT, length-controlled", features,
                   controlled.decision_function(with_length(items, lengths[test].ravel()))
                   .reshape(-1, 2), test)
            rows[-1]["length_coef"] = controlled.length_coef_
            log(f"  fold {fold} {features:24s} accuracy {rows[-2]['accuracy']:.3f} -> "
                f"{rows[-1]['accuracy']:.3f}, length correlation "
                f"{rows[-2]['length_correlation']:+.2f} -> {rows[-1]['length_correlation']:+.2f}"
                f" ({time.perf_counter() - t:.0f} s)")
    frame = pd.DataFrame(rows)
    summary = (frame.groupby(["model", "features"], sort=False)
               .agg(accuracy=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
                    length_correlation=("length_correlation", "mean"),
                    length_correlation_std=("length_correlation", "std"))
               .reset_index())
    return dict(n_comparisons=len(data), n_folds=n_folds, embed_seconds=embed_seconds,
                summary=summary.to_dict("records"), runs=rows)


# -- 2. arena-bench --------------------------------------------------------------------

def bench_arena(data_dir, embedder, n_splits, n_pairs, beta, log):
    data = load_scored_responses(data_dir / "arena_bench_v1_scored.jsonl.gz", drop_empty=False)
    t = time.perf_counter()
    embedding = embedder.transform(data[["prompt", "response"]])
    embed_seconds = time.perf_counter() - t
    log(f"arena-bench: {len(data)} answers embedded in {embed_seconds:.0f} s")
    golden = data["score"].to_numpy()
    groups = pd.factorize(data["group"])[0]
    lengths = response_lengths(data["response"])
    rows = []

    def record(split, model, features, reward, test, **extra):
        report = best_of_n_report(golden[test], reward, groups[test])
        rows.append(dict(split=split, model=model, features=features,
                         improvement=report.improvement, oracle_fraction=report.oracle_fraction,
                         length_correlation=length_correlation(lengths[test], reward,
                                                               groups[test]), **extra))

    splits = GroupShuffleSplit(n_splits=n_splits, test_size=0.2, random_state=0)
    for split, (train, test) in enumerate(splits.split(data, groups=groups)):
        record(split, "longest answer wins", "length", np.log1p(lengths[test]), test)
        record(split, "golden score (oracle)", "-", golden[test], test)
        sim = simulate_comparisons(golden[train], groups[train], n_pairs=n_pairs, beta=beta,
                                   random_state=split)
        vectors = {"embedding": embedding,
                   "TF-IDF words (LSA 256)": tfidf_lsa().fit(data.iloc[train]).transform(data)}
        for features, C in FEATURES.items():
            X = vectors[features]
            t = time.perf_counter()
            plain, controlled = fit_both(C, sim.take(X[train]), sim.y,
                                         lengths[train][sim.pairs])
            record(split, "linear BT", features, plain.decision_function(X[test]), test)
            record(split, "linear BT, length-controlled", features,
                   controlled.decision_function(with_length(X[test], lengths[test])), test,
                   length_coef=controlled.length_coef_)
            log(f"  split {split} {features:24s} of oracle {rows[-2]['oracle_fraction']:.2f} -> "
                f"{rows[-1]['oracle_fraction']:.2f}, length correlation "
                f"{rows[-2]['length_correlation']:+.2f} -> {rows[-1]['length_correlation']:+.2f}"
                f" ({time.perf_counter() - t:.0f} s)")
    frame = pd.DataFrame(rows)
    summary = (frame.groupby(["model", "features"], sort=False)
               .agg(improvement=("improvement", "mean"), improvement_std=("improvement", "std"),
                    oracle_fraction=("oracle_fraction", "mean"),
                    oracle_fraction_std=("oracle_fraction", "std"),
                    length_correlation=("length_correlation", "mean"),
                    length_correlation_std=("length_correlation", "std"))
               .reset_index())
    return dict(n_answers=len(data), n_prompts=int(data["group"].nunique()),
                n_empty_answers=int((data["response"].str.strip() == "").sum()),
                n_pairs=n_pairs, beta=beta, n_splits=n_splits, tie_rate=sim.tie_rate,
                embed_seconds=embed_seconds,
                best_of_n="all candidates of each held-out prompt (13-16)",
                summary=summary.to_dict("records"), runs=rows)


# -- report ---------------------------------------------------------------------------

def print_tables(results):
    h = results["hh_rlhf"]
    print(f"\nHH-RLHF harmless-base test ({h['n_comparisons']} comparisons): held-out "
          f"pairwise accuracy, {h['n_folds']}-fold CV; mean +- std over folds")
    print(f"{'model':30s} {'features':24s} {'accuracy':>15} {'length corr.':>16}")
    for r in h["summary"]:
        print(f"{r['model']:30s} {r['features']:24s} {r['accuracy']:7.3f} +- "
              f"{r['accuracy_std']:.3f} {r['length_correlation']:+8.2f} +- "
              f"{r['length_correlation_std']:.2f}")
    a = results["arena_bench"]
    print(f"\narena-bench ({a['n_answers']} answers, {a['n_prompts']} prompts): Best-of-N on "
          f"held-out prompts ({a['best_of_n']}), {a['n_pairs']} same-prompt comparisons at "
          f"beta={a['beta']:g}; mean +- std over {a['n_splits']} splits")
    print(f"{'model':30s} {'features':24s} {'improvement':>15} {'of oracle':>15} "
          f"{'length corr.':>16}")
    for r in a["summary"]:
        print(f"{r['model']:30s} {r['features']:24s} {r['improvement']:7.2f} +- "
              f"{r['improvement_std']:.2f} {r['oracle_fraction']:7.2f} +- "
              f"{r['oracle_fraction_std']:.2f} {r['length_correlation']:+8.2f} +- "
              f"{r['length_correlation_std']:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path,
                        default=os.environ.get("SKREWARD_CACHE", "/tmp/skreward_cache"))
    parser.add_argument("--n-folds", type=int, default=5)
    parser.add_argument("--n-splits", type=int, default=3)
    parser.add_argument("--n-pairs", type=int, default=5000)
    parser.add_argument("--beta", type=float, default=10.0)
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "length_bias.json")
    args = parser.parse_args(argv)

    def log(message):
        print(message, flush=True)

    start = time.perf_counter()
    embedder = SentenceEmbedder(combine="response", allow_empty=True, cache=args.cache)
    results = dict(
        question=__doc__.split("\n")[0],
        machine=dict(platform=platform.platform(), python=sys.version.split()[0],
                     cpus=os.cpu_count(), note="shared, loaded 2-core machine"),
        hh_rlhf=bench_hh(args.data, embedder, args.n_folds, log),
        arena_bench=bench_arena(args.data, embedder, args.n_splits, args.n_pairs, args.beta,
                                log))
    results["seconds"] = time.perf_counter() - start
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, default=float))
    print_tables(results)
    print(f"\n{results['seconds']:.0f} s in all")


if __name__ == "__main__":
    main()
