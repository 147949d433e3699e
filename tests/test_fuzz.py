"""Property-based fuzz of the public API: no surprises on any input.

Each test draws arguments, valid or not, for one part of the library (the
simulation, the metrics, the loaders, the testbed, the cache, the text front
ends and the reward models) and calls it. Either the call raises a
ValueError or TypeError (or one of scikit-learn's subclasses) whose message
names one of the arguments, or its result satisfies the invariants of that
part (shapes, finite rewards, valid pair indices, Best-of-N improvement at
most the oracle's). Any other exception, a RuntimeWarning, an unnamed
error or a broken invariant fails the test.

The examples are derandomized (the same on every run) and there are about
1,200 of them over the module; real numbers are drawn within +-1e6, with
NaN and infinities among them.
"""

import gzip
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from skreward import (BestOfNScorer, BTRegressor, EmbeddingCache, OrderConsistentClassifier,
                      PairwiseTransformer, RewardMLPClassifier, SentenceEmbedder,
                      SimulatedAnnotator, TextVectorizer, simulate_comparisons)
from skreward.datasets import load_hh_rlhf, load_scored_responses, make_preference_testbed
from skreward.metrics import (best_of_n_curve, best_of_n_report, best_of_n_score,
                              order_consistency_score, prompt_spearman_score)

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.filterwarnings("error::RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:load_.* dropped:UserWarning")]


def fuzz(max_examples):
    """Derandomized settings: the same examples on every run, nothing stored on disk."""
    return settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))


def attempt(call, *names):
    """``(True, result)``, or ``(False, error)`` for an error that names one of ``names``."""
    try:
        return True, call()
    except (ValueError, TypeError) as error:
        message = str(error)
        assert any(name in message for name in names), (
            f"{type(error).__name__} names none of {names}: {message}")
        return False, error


# -- strategies: each argument is valid most of the time, so that most calls succeed ------

good_reals = st.floats(-1e3, 1e3, allow_nan=False)
reals = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([np.nan, np.inf, -np.inf]))


def mostly(valid, bad, weight=12):
    """``valid`` about ``weight - 1`` times in ``weight``, else one of the ``bad`` values.

    (``st.one_of`` would draw the bad values as often as the valid ones.)
    """
    return st.sampled_from([False] * (weight - 1) + [True]).flatmap(
        lambda broken: st.sampled_from(bad) if broken else valid)


def counts(low, high, weight=12):
    """Integers in [low, high]; now and then a float, None, NaN, inf, a string or a bool."""
    return mostly(st.integers(low, high), [0, -1, 2.5, None, np.nan, np.inf, "3", True], weight)


seeds = mostly(st.one_of(st.integers(0, 2**16), st.none()), [-1, "0", 1.5])


@st.composite
def items_with_golden(draw, max_prompts=4):
    """Golden rewards and prompt ids of items; now and then broken (NaN, missing or mixed ids)."""
    sizes = draw(st.lists(mostly(st.integers(2, 6), [0, 1]), min_size=1, max_size=max_prompts))
    ids = np.repeat(np.arange(len(sizes)), sizes)
    ids = ids[np.random.default_rng(draw(st.integers(0, 99))).permutation(len(ids))]
    n = len(ids)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    golden = rng.normal(size=n) * draw(st.sampled_from([1e-3, 1.0, 1e3]))
    kind = draw(mostly(st.just("distinct"), ["ties", "constant", "nan", "inf"], 6))
    if kind == "ties":
        golden = np.round(golden)
    elif kind == "constant":
        golden[:] = 1.0
    elif kind != "distinct" and n:  # one NaN, or infinities of both signs
        golden[rng.integers(n, size=2)] = {"nan": np.nan, "inf": [np.inf, -np.inf]}[kind]
    kind = draw(mostly(st.sampled_from(["int", "str"]),
                       ["missing", "mixed", "length", "2d", "none"]))
    groups = {"int": ids, "str": np.array([f"p{i}" for i in ids]),
              "length": np.r_[ids, 0], "2d": np.c_[ids, ids], "none": None}.get(kind)
    if kind == "missing" and n:
        groups = ids.astype(object)
        groups[draw(st.integers(0, n - 1))] = draw(st.sampled_from([None, np.nan]))
    if kind in ("missing", "mixed") and not n:
        groups = ids
    if kind == "mixed" and n:
        groups = ids.astype(object)
        groups[0] = draw(st.sampled_from([None, "a"]))
    return golden, groups


@st.composite
def comparisons(draw):
    """Comparisons ``(n_pairs, 2, n_features)`` and labels; now and then broken."""
    n = draw(mostly(st.integers(1, 12), [0]))
    width = draw(st.integers(1, 3))
    shape = draw(mostly(st.just((n, 2, width)), [(n, 3, width), (n, width), (n, 2, 0),
                                                  (n, 2, 2, 2)]))
    X = np.random.default_rng(draw(st.integers(0, 2**16))).normal(size=shape)
    if X.size and draw(mostly(st.just(False), [True])):
        X.flat[0], X.flat[-1] = np.inf, draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    labels = draw(mostly(st.sampled_from(["none", "01", "pm1"]), ["bad", "length"]))
    y = {"none": None,
         "01": draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)),
         "pm1": draw(st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n)),
         "bad": draw(st.lists(st.sampled_from([0, 1, 2, 0.5, np.nan]), min_size=n, max_size=n)),
         "length": [1] * (n + 1)}[labels]
    return X, y


def check_reward(reward, n_items):
    reward = np.asarray(reward)
    assert reward.shape == (n_items,)
    assert np.isfinite(reward).all()


# -- simulation -------------------------------------------------------------------------


@fuzz(250)
@given(data=items_with_golden(), n_pairs=counts(1, 8),
       pairing=mostly(st.sampled_from(["same_prompt", "cross_prompt", "similar", "diverse"]),
                      ["other"]),
       beta=mostly(st.one_of(st.floats(0, 100), st.just(np.inf)), [np.nan, -1.0, "high"]),
       link=mostly(st.sampled_from(["logistic", "probit"]), ["cauchy"]),
       scale=mostly(st.one_of(st.none(), st.floats(0.1, 10)), [0, -1.0, np.inf, "1"]),
       replace=mostly(st.booleans(), ["no"]), seed=seeds)
def test_simulate_comparisons(data, n_pairs, pairing, beta, link, scale, replace, seed):
    golden, groups = data
    done, sim = attempt(lambda: simulate_comparisons(
        golden, groups, n_pairs=n_pairs, pairing=pairing, beta=beta, link=link, scale=scale,
        replace=replace, random_state=seed),
        "golden", "groups", "n_pairs", "pairing", "beta", "link", "scale", "replace",
        "random_state")
    if not done:
        return
    first, second = sim.pairs.T
    assert sim.pairs.shape == (n_pairs, 2) and sim.y.shape == (n_pairs,)
    assert ((sim.pairs >= 0) & (sim.pairs < len(golden))).all()
    assert (first != second).all()
    assert set(np.unique(sim.y).tolist()) <= {0, 1}
    if pairing != "cross_prompt":
        assert (np.asarray(groups)[first] == np.asarray(groups)[second]).all()
    if not replace:
        assert len({frozenset(pair) for pair in sim.pairs.tolist()}) == n_pairs
    if beta == np.inf:
        decided = golden[first] != golden[second]
        assert (sim.y[decided] == (golden[first] > golden[second])[decided]).all()
    assert 0 <= sim.error_rate <= 1 and np.isfinite(sim.mean_abs_delta)
    assert sim.take(np.arange(len(golden))[:, None]).shape == (n_pairs, 2, 1)


# -- metrics ----------------------------------------------------------------------------


def tolerance(golden):
    return 1e-9 * (1 + np.abs(golden).max())


@fuzz(250)
@given(data=items_with_golden(), score_seed=st.integers(0, 2**16),
       score_kind=mostly(st.sampled_from(["random", "golden", "ties"]), ["nan", "short"]),
       function=st.sampled_from(["score", "report", "curve", "spearman"]),
       n=mostly(st.one_of(st.integers(1, 3), st.none()), [0, 2.5, "2", 7]),
       ns=mostly(st.lists(st.integers(1, 3), min_size=1, max_size=3), [[], [0], [2.5], 3]),
       metric=mostly(st.sampled_from(["improvement", "golden", "oracle_fraction"]), ["best"]),
       n_repeats=counts(1, 4), seed=seeds)
def test_best_of_n(data, score_seed, score_kind, function, n, ns, metric, n_repeats, seed):
    golden, groups = data
    score = {"random": np.random.default_rng(score_seed).normal(size=len(golden)),
             "golden": golden, "ties": np.zeros(len(golden)),
             "nan": np.full(len(golden), np.nan), "short": np.zeros(max(len(golden) - 1, 0))
             }[score_kind]
    names = ("y_true", "y_score", "groups", "n", "metric", "n_repeats", "random_state")
    if function == "curve":
        done, curve = attempt(lambda: best_of_n_curve(golden, score, groups, ns=ns,
                                                      n_repeats=n_repeats, random_state=seed),
                              *names, "ns")
        if done:
            assert curve.n.tolist() == list(ns)
            for key in ("golden", "improvement", "oracle_improvement"):
                assert curve[key].shape == (len(ns),) and np.isfinite(curve[key]).all()
            assert (curve.improvement <= curve.oracle_improvement + tolerance(golden)).all()
    elif function == "spearman":
        done, rho = attempt(lambda: prompt_spearman_score(golden, score, groups), *names[:3],
                            "Spearman")
        if done:
            assert -1 - 1e-12 <= rho <= 1 + 1e-12
    elif function == "score":
        done, value = attempt(lambda: best_of_n_score(
            golden, score, groups, n=n, metric=metric, n_repeats=n_repeats, random_state=seed),
            *names)
        if done:
            assert np.isfinite(value) or metric == "oracle_fraction"  # NaN: constant golden
    else:
        done, report = attempt(lambda: best_of_n_report(golden, score, groups, n=n,
                                                        n_repeats=n_repeats, random_state=seed),
                               *names)
        if done:
            assert np.isfinite([report.golden, report.improvement,
                                report.oracle_improvement]).all()
            assert report.improvement <= report.oracle_improvement + tolerance(golden)
            assert report.golden <= golden.max() + tolerance(golden)
            assert np.isnan(report.oracle_fraction) or report.oracle_fraction <= 1 + 1e-9


@fuzz(100)
@given(n=mostly(st.integers(1, 8), [0]),
       labels=mostly(st.sampled_from(["none", "01", "pm1"]), ["bad", "length"]),
       score=st.lists(mostly(good_reals, [np.nan, np.inf]), min_size=8, max_size=8),
       weights=mostly(st.one_of(st.none(), st.lists(st.floats(0, 10), min_size=8, max_size=8)),
                      ["abc", 3.0, [[1.0]], [-1.0] * 8, [np.nan] * 8, [0.0] * 8, [1.0]]))
def test_order_consistency(n, labels, score, weights):
    y = {"none": None, "01": [1, 0] * n, "pm1": [-1, 1] * n, "bad": [2] * n,
         "length": [1] * (n + 1)}[labels]
    y = y[:n] if labels not in ("none", "length") else y
    weights = weights[:n] if isinstance(weights, list) and len(weights) == 8 else weights
    done, value = attempt(lambda: order_consistency_score(y, score[:n], sample_weight=weights),
                          "y", "y_score", "sample_weight", "Sample weights")
    if done:
        assert 0 <= value <= 1


# -- data: testbed, loaders, cache ---------------------------------------------------


@fuzz(60)
@given(n_prompts=counts(1, 4), n_responses=counts(1, 3), n_candidates=counts(1, 3),
       n_features=counts(1, 6), n_latent=counts(1, 4),
       spread=mostly(st.floats(0, 2), [np.nan, np.inf, -1.0, None]), seed=seeds)
def test_testbed(n_prompts, n_responses, n_candidates, n_features, n_latent, spread, seed):
    done, data = attempt(lambda: make_preference_testbed(
        n_prompts, n_responses, n_test_prompts=2, n_candidates=n_candidates,
        n_features=n_features, n_latent=n_latent, response_spread=spread, random_state=seed),
        "n_prompts", "n_responses", "n_candidates", "n_features", "n_latent",
        "response_spread", "random_state")
    if done:
        assert data.X.shape == (n_prompts * n_responses, n_features)
        assert data.X_test.shape == (2 * n_candidates, n_features)
        for key in ("X", "golden", "X_test", "golden_test"):
            assert np.isfinite(data[key]).all()
        assert data.golden.shape == data.groups.shape == (n_prompts * n_responses,)


texts = st.text(max_size=6)
bad_values = [None, "", float("nan"), float("inf"), 1.5, [1], {"a": 1}, True]


@st.composite
def jsonl_bytes(draw, records):
    """The bytes of a JSON-lines file of ``records``, gzipped or not; now and then broken."""
    lines = [json.dumps(r) for r in records]  # NaN and inf are written as NaN and Infinity
    damage = draw(mostly(st.just("none"), ["line", "bytes", "cut"], 5))
    if damage == "line":
        lines.insert(0, draw(st.sampled_from(["[1, 2]", "{broken", "null", '"text"'])))
    data = "\n".join(lines).encode()
    if damage == "bytes":
        data += b"\n\xff\xfe"
    if draw(st.booleans()):
        data = gzip.compress(data)
        if damage == "cut":
            data = data[:-draw(st.integers(1, len(data) - 1))]
    return data


def load(loader, data, **kwargs):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.jsonl"
        path.write_bytes(data)
        return attempt(lambda: loader(path, **kwargs), "path")


@st.composite
def scored_records(draw):
    records = draw(st.lists(st.fixed_dictionaries(
        {"question_id": mostly(st.integers(0, 2), [None, np.nan]),
         "prompt": mostly(texts, bad_values), "response": mostly(texts, bad_values),
         "score": mostly(st.one_of(st.integers(0, 10), st.floats(0, 10)), bad_values)},
        optional={"model": texts}), max_size=5))
    if records and draw(mostly(st.just(False), [True])):
        del records[0][draw(st.sampled_from(sorted(records[0])))]
    return records


@fuzz(60)
@given(records=scored_records(), data=st.data(), drop_empty=st.booleans())
def test_load_scored_responses(records, data, drop_empty):
    done, table = load(load_scored_responses, data.draw(jsonl_bytes(records)),
                       drop_empty=drop_empty)
    if done:
        assert list(table.columns[:4]) == ["group", "prompt", "response", "score"]
        assert table["score"].dtype == np.float64 and np.isfinite(table["score"]).all()
        assert table["group"].notna().all()
        assert table["response"].map(lambda v: isinstance(v, str)).all()
        if drop_empty:
            assert (table["response"].str.strip() != "").all()
        else:
            assert len(table) == len(records)


@st.composite
def dialogue_pairs(draw):
    """An HH-RLHF record: two dialogues that differ in the last answer; now and then broken."""
    human, chosen, rejected = draw(texts), draw(texts), draw(texts)
    start = f"\n\nHuman: {human}\n\nAssistant:"
    record = {"chosen": f"{start} {chosen}", "rejected": f"{start} {rejected}"}
    broken = draw(mostly(st.just(None), ["chosen", "rejected", "field"]))
    if broken == "field":
        del record["rejected"]
    elif broken:
        record[broken] = draw(st.sampled_from(bad_values + ["no turns"]))
    return record


@fuzz(60)
@given(records=st.lists(dialogue_pairs(), max_size=4), data=st.data(),
       drop_empty=st.booleans())
def test_load_hh_rlhf(records, data, drop_empty):
    done, table = load(load_hh_rlhf, data.draw(jsonl_bytes(records)), drop_empty=drop_empty)
    if done:
        assert list(table.columns) == ["prompt", "chosen", "rejected", "dialogue"]
        for column in ("prompt", "chosen", "rejected"):
            assert table[column].map(lambda v: isinstance(v, str)).all()
        if drop_empty:
            assert ((table["chosen"] != "") & (table["rejected"] != "")).all()


@fuzz(60)
@given(namespace=mostly(st.sampled_from(["model", ""]), [3, None]),
       keys=mostly(st.lists(st.text(max_size=3), max_size=4), ["abc", [1, "a"], None, 3]),
       rows=mostly(st.none(), [0, 1, 5]), dim=st.integers(1, 3), on_disk=st.booleans())
def test_embedding_cache(namespace, keys, rows, dim, on_disk):
    rows = len(keys) if rows is None and isinstance(keys, list) else rows or 0
    vectors = np.arange(rows * dim, dtype=np.float64).reshape(rows, dim)
    with tempfile.TemporaryDirectory() as folder:
        cache = EmbeddingCache(folder if on_disk else None)
        done, _ = attempt(lambda: cache.put(namespace, keys, vectors), "namespace", "keys",
                          "vectors")
        if not done:
            return
        cache.clear_memory()
        found, missing = cache.get(namespace, keys)
    expected = dict(zip(keys, vectors))  # a repeated key keeps its last vector
    assert len(found) == len(keys) and (not missing.any() or not on_disk)
    if on_disk:
        for key, vector in zip(keys, found):
            np.testing.assert_array_equal(vector, expected[key].astype(np.float32))


# -- text front ends ---------------------------------------------------------------------


@fuzz(80)
@given(columns=mostly(st.sampled_from([("prompt", "response"), ("prompt", "chosen", "rejected"),
                                       ("response",), ("chosen", "rejected", "other")]),
                      [(), ("prompt",), ("prompt", "response", "chosen"), ("chosen",)]),
       n=mostly(st.integers(1, 4), [0]), ragged=mostly(st.just(False), [True]),
       cells=st.lists(mostly(st.text(alphabet="ab ", min_size=1, max_size=5).filter(str.strip),
                             bad_values + [" "], 30), min_size=30, max_size=30),
       as_frame=st.booleans(), front=st.sampled_from(["embedder", "vectorizer"]))
def test_text_tables(columns, n, ragged, cells, as_frame, front):
    table = {c: cells[5 * i:5 * i + n + (ragged and i == 0)] for i, c in enumerate(columns)}
    if as_frame and not ragged:
        table = pd.DataFrame(table)
    if front == "embedder":  # fit checks the table only: no model is loaded
        attempt(lambda: SentenceEmbedder().fit(table), "X")
        return
    done, out = attempt(lambda: TextVectorizer(TfidfVectorizer(analyzer="char")).fit_transform(
        table), "X")
    if done:
        triples = "chosen" in columns and "rejected" in columns
        # n, or n + 1 for a "ragged" lone column (an unused prompt column is not checked)
        n_rows = len(table["chosen" if triples else "response"])
        assert out.shape[:-1] == ((n_rows, 2) if triples else (n_rows,))
        assert np.isfinite(out).all()


# -- reward models --------------------------------------------------------------------------


@fuzz(80)
@given(data=comparisons(), output=mostly(st.sampled_from(["pointwise", "difference"]),
                                         ["other"]))
def test_pairwise_transformer(data, output):
    X, y = data
    done, resampled = attempt(lambda: PairwiseTransformer(output).fit_resample(X, y),
                              "X", "y", "output")
    if not done:
        return
    rows, labels = resampled
    n, _, width = X.shape
    assert rows.shape == (2 * n, width) and labels.shape == (2 * n,)
    assert set(np.unique(labels).tolist()) == {0, 1}
    if output == "difference":  # only "difference" keeps the rows, so only it transforms
        transformer = PairwiseTransformer(output).fit(X, y)
        assert transformer.transform(X).shape == (n, width)
        attempt(lambda: transformer.transform(np.zeros((2, 2, width + 1))), "X")


def fit_and_score(model, X, y, names):
    """Fit; then the rewards of the items are finite and the order consistency in [0, 1]."""
    done, model = attempt(lambda: model.fit(X, y), *names)
    if not done:
        return
    n, _, width = X.shape
    items = X.reshape(-1, width)
    check_reward(model.decision_function(items), 2 * n)
    assert 0 <= model.score(X, y) <= 1
    for bad in (np.zeros((2, width + 1)), X, None, items[:, :, None]):
        assert not attempt(lambda: model.decision_function(bad), "X")[0]


@fuzz(80)
@given(data=comparisons(), C=mostly(st.floats(0.01, 10), [0, -1.0]),
       response_method=mostly(st.sampled_from(["auto", "decision_function", "predict_proba"]),
                              ["raw_score", "logit"]))
def test_order_consistent_classifier(data, C, response_method):
    X, y = data
    model = OrderConsistentClassifier(LogisticRegression(C=C), response_method=response_method)
    fit_and_score(model, X, y, ("X", "y", "C", "response_method", "estimator"))


@fuzz(60)
@given(data=comparisons(), kind=st.sampled_from(["bt", "bt", "clf"]),
       max_epochs=mostly(st.integers(1, 2), [0, 1.5]),
       batch_size=mostly(st.sampled_from([4, 16, -1]), [0, 2.5]),
       validation_fraction=mostly(st.sampled_from([None, 0.2, 0.5]), [0, 1.0]),
       lr=mostly(st.sampled_from([1e-2, 1e-3]), [0, -1.0]),
       link=mostly(st.sampled_from(["logistic", "probit"]), ["other"]))
def test_reward_nets(data, kind, max_epochs, batch_size, validation_fraction, lr, link):
    X, y = data
    params = dict(module__hidden_sizes=(3,), max_epochs=max_epochs, batch_size=batch_size,
                  validation_fraction=validation_fraction, lr=lr, random_state=0)
    if kind == "bt":
        model = BTRegressor(link=link, **params)
    else:
        model = OrderConsistentClassifier(RewardMLPClassifier(**params))
    fit_and_score(model, X, y, ("X", "y", "link", *params))


@fuzz(50)
@given(data=items_with_golden(), n_pairs=counts(1, 8),
       pairing=st.sampled_from(["same_prompt", "cross_prompt"]),
       n=mostly(st.one_of(st.integers(1, 3), st.none(), st.lists(st.integers(1, 3), min_size=1)),
                [0, [], [0], 2.5]),
       metric=st.sampled_from(["improvement", "golden", "oracle_fraction"]),
       seed=st.integers(0, 100))
def test_simulated_annotator_with_best_of_n(data, n_pairs, pairing, n, metric, seed):
    golden, groups = data
    X = np.random.default_rng(seed).normal(size=(len(golden), 3)) + golden[:, None]
    model = SimulatedAnnotator(OrderConsistentClassifier(LogisticRegression()),
                               n_pairs=n_pairs, pairing=pairing, random_state=seed)
    done, model = attempt(lambda: model.fit(X, golden, groups=groups),
                          "X", "y", "golden", "groups", "n_pairs", "pairing")
    if not done:
        return
    reward = model.decision_function(X)
    check_reward(reward, len(golden))
    done, value = attempt(lambda: BestOfNScorer(n=n, metric=metric, n_repeats=2)(
        model, X, golden, groups=groups), "n", "groups", "y_true", "y_score")
    if done:
        assert np.isfinite(value)
        report = best_of_n_report(golden, reward, groups)
        assert report.improvement <= report.oracle_improvement + tolerance(golden)
