"""Bad inputs that used to pass silently or fail confusingly: each is a clear error now.

One test per case of issue 12 (items 7 and 8, the library's part; the CLI's
cases are tested with the CLI). Every error is a ValueError or TypeError (or
scikit-learn's subclasses) whose message names the argument and what was
expected.
"""

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LinearRegression, LogisticRegression

from skreward import (BestOfNScorer, BTRegressor, EmbeddingCache, OrderConsistentClassifier,
                      PairwiseTransformer, SentenceEmbedder, SimulatedAnnotator,
                      simulate_comparisons)
from skreward.datasets import load_hh_rlhf, load_scored_responses, make_preference_testbed
from skreward.metrics import best_of_n_curve, best_of_n_score, order_consistency_score

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GOLDEN = np.arange(12.0)
GROUPS = np.repeat([0, 1, 2], 4)
X_PAIRS = np.random.default_rng(0).normal(size=(20, 2, 3))
TINY = dict(module__hidden_sizes=(4,), max_epochs=1, random_state=0)


class FirstFeature:
    """A fitted reward model stand-in: the reward is the first feature."""

    def decision_function(self, X):
        return np.asarray(X)[:, 0]


# -- item 7: inputs that passed silently -------------------------------------------


@pytest.mark.parametrize("groups", [
    pytest.param(np.r_[np.nan, GROUPS[1:]], id="nan"),
    pytest.param(np.array([None] * 12, dtype=object), id="none"),
])
def test_simulate_refuses_missing_prompt_ids(groups):
    with pytest.raises(ValueError,
                       match=r"groups has a missing prompt id \(None or NaN\) at item 0"):
        simulate_comparisons(GOLDEN, groups, n_pairs=5, random_state=0)


@pytest.mark.parametrize("groups", [
    pytest.param(np.r_[GROUPS[:-1], np.nan], id="nan"),
    pytest.param([0] * 11 + [None], id="none"),
    pytest.param(pd.Series(GROUPS).astype("Int64").where(GROUPS > 0), id="pandas-na"),
])
def test_best_of_n_refuses_missing_prompt_ids(groups):
    with pytest.raises(ValueError, match="groups has a missing prompt id"):
        best_of_n_score(GOLDEN, GOLDEN, groups)


def test_best_of_n_refuses_fractional_n():
    with pytest.raises(ValueError, match="'n' parameter of best_of_n_score must be an int"):
        best_of_n_score(GOLDEN, GOLDEN, GROUPS, n=2.5)


def test_best_of_n_refuses_zero_repeats():
    with pytest.raises(ValueError, match=r"'n_repeats' parameter .* must be an int in the "
                                         r"range \[1"):
        best_of_n_score(GOLDEN, GOLDEN, GROUPS, n=2, n_repeats=0)


def test_scorer_refuses_empty_n():
    with pytest.raises(ValueError, match="n must be a non-empty sequence of integers >= 1"):
        BestOfNScorer(n=[])(FirstFeature(), GOLDEN[:, None], GOLDEN, groups=GROUPS)


def test_scorer_refuses_fractional_ns():
    with pytest.raises(ValueError, match="n must be a non-empty sequence of integers"):
        BestOfNScorer(n=[2, 2.5])(FirstFeature(), GOLDEN[:, None], GOLDEN, groups=GROUPS)


def test_order_consistency_refuses_negative_weights():
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        order_consistency_score([1, 1], [1.0, -1.0], sample_weight=[-1, 2])


def test_order_consistency_refuses_nan_weights():
    with pytest.raises(ValueError, match="sample_weight contains NaN"):
        order_consistency_score([1, 1], [1.0, -1.0], sample_weight=[np.nan, 2])


def test_order_consistency_refuses_all_zero_weights():
    with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero"):
        order_consistency_score([1, 1], [1.0, -1.0], sample_weight=[0, 0])


def test_order_consistency_weights_still_weight():
    assert order_consistency_score([1, 1], [1.0, -1.0], sample_weight=[3, 1]) == 0.75


@pytest.mark.parametrize("score", [None, float("nan")], ids=["null", "nan"])
def test_scored_responses_refuse_missing_scores(tmp_path, score):
    path = tmp_path / "scored.jsonl"
    lines = [{"question_id": "q", "prompt": "p", "response": r, "score": s}
             for r, s in [("a", 1.0), ("b", score)]]
    path.write_text("\n".join(json.dumps(line) for line in lines))  # NaN is written as NaN
    with pytest.raises(ValueError, match="field 'score' must hold a finite number in every "
                                         r"record \(the golden reward\); record 1 holds"):
        load_scored_responses(path)


def test_scored_responses_refuse_missing_prompt_ids(tmp_path):
    path = tmp_path / "scored.jsonl"
    path.write_text(json.dumps({"question_id": None, "prompt": "p", "response": "r",
                                "score": 1}))
    with pytest.raises(ValueError, match="field 'question_id' must hold a prompt id in every "
                                         "record; record 0 holds null"):
        load_scored_responses(path)


@pytest.mark.parametrize("name", ["response_spread", "prompt_offset", "embedding_noise"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -0.1])
def test_testbed_refuses_bad_scales(name, value):
    with pytest.raises(ValueError, match=f"'{name}' parameter of make_preference_testbed "
                                         r"must be a float in the range \[0.0, inf\)"):
        make_preference_testbed(n_prompts=2, **{name: value})


def test_cache_refuses_more_keys_than_vectors():
    with pytest.raises(ValueError, match=r"vectors must be of shape \(len\(keys\), dim\) = "
                                         r"\(3, dim\), one row per key; got shape \(2, 4\)"):
        EmbeddingCache().put("model", ["a", "b", "c"], np.ones((2, 4)))


@pytest.mark.parametrize("method", ["put", "get"])
def test_cache_refuses_a_string_as_keys(method):
    cache = EmbeddingCache()
    args = ("model", "abc") + ((np.ones((3, 4)),) if method == "put" else ())
    with pytest.raises(TypeError, match=r"keys must be a sequence of str .* got str\. "
                                        r"Wrap a single text in a list: keys=\[text\]"):
        getattr(cache, method)(*args)
    assert cache.get("model", ["a"])[1].tolist() == [True]  # nothing was stored


def test_cache_refuses_non_string_keys():
    with pytest.raises(TypeError, match=r"keys\[1\] is a int"):
        EmbeddingCache().put("model", ["a", 1], np.ones((2, 4)))


def test_pairwise_difference_refuses_another_width():
    transformer = PairwiseTransformer("difference").fit(X_PAIRS)
    with pytest.raises(ValueError, match="X has 5 features, but PairwiseTransformer is "
                                         "expecting 3 features as input"):
        transformer.transform(np.zeros((4, 2, 5)))


@pytest.mark.parametrize("columns", [["response", "chosen", "rejected"], ["response", "chosen"]])
def test_embedder_refuses_items_and_triples_at_once(columns):
    table = pd.DataFrame({"prompt": ["p"], **{c: ["text"] for c in columns}})
    with pytest.raises(ValueError, match="X has both a 'response' column .* ambiguous"):
        SentenceEmbedder().fit(table)  # refused before any model is loaded


# -- item 8: errors that confused ------------------------------------------------------


@pytest.mark.parametrize("name", ["max_epochs", "batch_size"])
def test_bt_refuses_zero_epochs_and_batch_size(name):
    with pytest.raises(ValueError, match=f"'{name}' parameter of BTRegressor must be an int "
                                         r"in the range \[1, inf\)"):
        BTRegressor(**{**TINY, name: 0}).fit(X_PAIRS)


@pytest.mark.parametrize("n_pairs", [np.inf, np.nan, None, 2.5])
def test_simulate_refuses_non_integer_n_pairs(n_pairs):
    with pytest.raises(ValueError, match="'n_pairs' parameter of simulate_comparisons must be "
                                         r"an int in the range \[1, inf\)"):
        simulate_comparisons(GOLDEN, GROUPS, n_pairs=n_pairs)


def test_simulate_refuses_a_string_beta():
    with pytest.raises(ValueError, match="'beta' parameter of simulate_comparisons must be a "
                                         "float"):
        simulate_comparisons(GOLDEN, GROUPS, n_pairs=3, beta="high")


def test_curve_on_one_prompt_names_ns():
    with pytest.raises(ValueError, match=r"ns: n=4 is larger than the candidates of some "
                                         r"prompts \(the smallest prompt has 3\)"):
        best_of_n_curve([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0, 0, 0])


def test_curve_on_one_candidate_names_groups():
    with pytest.raises(ValueError, match="groups: Best-of-N needs at least two candidates"):
        best_of_n_curve([1.0], [1.0], [0], ns=[1])


@pytest.mark.parametrize("ns", [[], [0], [2, 0], [2.5], [[2, 4]]], ids=str)
def test_curve_refuses_bad_ns(ns):
    with pytest.raises(ValueError, match=r"ns must be a non-empty sequence of integers >= 1 "
                                         r"\(the values of N\)"):
        best_of_n_curve(GOLDEN, GOLDEN, GROUPS, ns=ns)


def test_curve_refuses_negative_repeats():
    with pytest.raises(ValueError, match="'n_repeats' parameter of best_of_n_curve must be an "
                                         "int"):
        best_of_n_curve(GOLDEN, GOLDEN, GROUPS, ns=[2], n_repeats=-1)


@pytest.mark.parametrize("fit", [
    pytest.param(lambda: BTRegressor(**TINY).fit(None), id="bt-fit"),
    pytest.param(lambda: OrderConsistentClassifier(LogisticRegression()).fit(None), id="clf-fit"),
    pytest.param(lambda: PairwiseTransformer().fit_resample(None), id="pairwise"),
])
def test_none_as_comparisons_is_named(fit):
    with pytest.raises(ValueError, match=r"X is None; expected comparisons, an array-like of "
                                         r"shape \(n_pairs, 2, n_features\)"):
        fit()


def test_none_as_items_is_named():
    model = OrderConsistentClassifier(LogisticRegression()).fit(X_PAIRS)
    with pytest.raises(ValueError, match=r"X is None; expected items, an array-like of shape "
                                         r"\(n_items, n_features\)"):
        model.decision_function(None)


def test_classifier_refuses_a_regressor_at_fit():
    with pytest.raises(ValueError, match="estimator must be a binary classifier; got the "
                                         "regressor LinearRegression"):
        OrderConsistentClassifier(LinearRegression()).fit(X_PAIRS)


def test_classifier_refuses_an_estimator_without_logit_at_fit():
    class Labeller(ClassifierMixin, BaseEstimator):  # labels only: no logit, no probability
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.ones(len(X), dtype=int)

    with pytest.raises(ValueError, match="estimator Labeller offers no way to read a logit "
                                         "with response_method='auto'"):
        OrderConsistentClassifier(Labeller()).fit(X_PAIRS)


def test_truncated_gzip_is_named(tmp_path):
    line = {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"}
    path = tmp_path / "test.jsonl.gz"
    path.write_bytes(gzip.compress((json.dumps(line) + "\n").encode() * 50)[:-30])
    with pytest.raises(ValueError, match=r"path: test.jsonl.gz is a damaged or truncated gzip "
                                         "file"):
        load_hh_rlhf(path)


def test_non_utf8_file_is_named(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"chosen": "caf\u00e9", "rejected": "x"}\n'.encode("latin-1"))
    with pytest.raises(ValueError, match="path: latin1.jsonl is not UTF-8 text"):
        load_hh_rlhf(path)


@pytest.mark.parametrize("groups", [
    pytest.param(np.array([1] * 6 + ["a"] * 6, dtype=object), id="int-str"),
    pytest.param(np.array([0] * 11 + [None], dtype=object), id="int-none"),
])
def test_groups_of_mixed_kinds_are_named(groups):
    with pytest.raises((TypeError, ValueError), match="groups (mixes prompt ids of types|has a "
                                                      "missing prompt id)"):
        simulate_comparisons(GOLDEN, groups, n_pairs=3, random_state=0)


def test_groups_of_two_dimensions_are_named():
    with pytest.raises(ValueError, match=r"groups must be 1-D \(one prompt id per item\); got "
                                         r"an array of shape \(6, 2\)"):
        best_of_n_score(GOLDEN, GOLDEN, GROUPS.reshape(6, 2))


def test_bt_on_one_comparison_names_validation_fraction():
    with pytest.raises(ValueError, match="validation_fraction=0.1 holds out 1 of the 1 "
                                         "training rows.*validation_fraction=None"):
        BTRegressor(**TINY).fit(X_PAIRS[:1])
    assert BTRegressor(**TINY, validation_fraction=None).fit(X_PAIRS[:1]).n_features_in_ == 3


# -- found by the property-based fuzz (tests/test_fuzz.py) -----------------------------


def test_simulate_refuses_empty_golden_by_name():
    with pytest.raises(ValueError, match="golden must hold at least two items to compare; got "
                                         "n_samples=0"):
        simulate_comparisons([], [], n_pairs=1)


def test_order_consistency_refuses_no_comparisons():
    with pytest.raises(ValueError, match="y_score must hold at least one comparison; got 0"):
        order_consistency_score(None, [])


def test_scorer_refuses_an_undefined_oracle_fraction():
    scorer = BestOfNScorer(n=1, metric="oracle_fraction")  # Best-of-1 never beats the mean
    with pytest.raises(ValueError, match="metric='oracle_fraction' is undefined here"):
        scorer(FirstFeature(), GOLDEN[:, None], GOLDEN, groups=GROUPS)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("call", [
    pytest.param(lambda bad: best_of_n_score(bad, GOLDEN[:2], [0, 0]), id="best-of-n"),
    pytest.param(lambda bad: OrderConsistentClassifier(LogisticRegression()).fit(
        np.stack([bad[:, None], bad[::-1, None]], axis=1)), id="comparisons"),
    pytest.param(lambda bad: SimulatedAnnotator(OrderConsistentClassifier(
        LogisticRegression()), n_pairs=1).fit(bad[:, None], [0.0, 1.0], groups=[0, 0]),
        id="annotator"),
])
def test_infinities_of_both_signs_raise_without_a_runtime_warning(call):
    with pytest.raises(ValueError, match="(X|y_true) contains infinity"):
        call(np.array([np.inf, -np.inf]))


def test_testbed_takes_numpy_integers_and_bools_as_counts():
    data = make_preference_testbed(n_prompts=np.int64(2), n_responses=2, n_test_prompts=1,
                                   n_candidates=2, n_features=3, n_latent=True, random_state=0)
    assert data.X.shape == (4, 3) and data.X_test.shape == (2, 3)
