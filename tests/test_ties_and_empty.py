"""Tied golden rewards in the simulation; empty responses in the text front ends and loaders."""

import json
import warnings

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from skreward import (EmbeddingCache, OrderConsistentClassifier, SentenceEmbedder,
                      SimulatedAnnotator, TextVectorizer, simulate_comparisons)
from skreward.datasets import load_hh_rlhf, load_scored_responses
from skreward.metrics import order_consistency_score


def _binomial_bound(n, sigmas=4):
    return sigmas * np.sqrt(0.25 / n)


@pytest.fixture(scope="module")
def graded():
    """Integer grades 1-3 of 8 responses to each of 500 prompts: most pairs are tied."""
    rng = np.random.default_rng(0)
    return rng.integers(1, 4, size=4000).astype(float), np.repeat(np.arange(500), 8)


@pytest.mark.parametrize("beta", [1.0, np.inf])
def test_tied_pairs_get_fair_coin_labels(graded, beta):
    golden, groups = graded
    sim = simulate_comparisons(golden, groups, n_pairs=8000, beta=beta, random_state=0)
    first, second = golden[sim.pairs[:, 0]], golden[sim.pairs[:, 1]]
    tied = first == second
    assert sim.tie_rate == pytest.approx(tied.mean()) and tied.sum() > 2000
    assert abs(sim.y[tied].mean() - 0.5) < _binomial_bound(tied.sum())
    assert abs(sim.y.mean() - 0.5) < _binomial_bound(len(sim.y))  # no "second wins" rule
    if beta == np.inf:  # untied pairs still follow the golden order exactly
        np.testing.assert_array_equal(sim.y[~tied], first[~tied] > second[~tied])


def test_all_tied_golden_rewards_are_coin_flips():
    sim = simulate_comparisons(np.zeros(1000), n_pairs=5000, pairing="cross_prompt", scale=1.0,
                               random_state=0)
    assert sim.tie_rate == 1.0 and sim.error_rate == 0.5
    assert abs(sim.y.mean() - 0.5) < _binomial_bound(5000)


@pytest.mark.parametrize("beta", [0.0, 1.0, np.inf])
def test_error_rate_counts_a_tie_one_half(graded, beta):
    golden, groups = graded
    sim = simulate_comparisons(golden, groups, n_pairs=8000, beta=beta, random_state=0)
    delta = golden[sim.pairs[:, 0]] - golden[sim.pairs[:, 1]]
    assert sim.error_rate == pytest.approx(1 - order_consistency_score(sim.y, delta))
    if beta == np.inf:  # noiseless: the only "errors" are the ties' half
        assert sim.error_rate == pytest.approx(sim.tie_rate / 2)
    if beta == 0.0:
        assert abs(sim.error_rate - 0.5) < _binomial_bound(8000)


def test_labels_of_untied_pairs_are_unchanged_by_the_tie_fix():
    """The random draws are the same as before ties got coin flips: seeded results change
    only on tied pairs (labels recorded from the simulation before the fix)."""
    golden = np.repeat(np.arange(6.0), 3)
    sim = simulate_comparisons(golden, n_pairs=24, pairing="cross_prompt", beta=2.0,
                               random_state=5)
    before = [0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1]
    tied = golden[sim.pairs[:, 0]] == golden[sim.pairs[:, 1]]
    assert tied.sum() == 3
    np.testing.assert_array_equal(sim.y[~tied], np.array(before)[~tied])


def test_annotator_reports_the_tie_rate(graded):
    golden, groups = graded
    X = np.random.default_rng(1).normal(size=(len(golden), 3))
    model = SimulatedAnnotator(OrderConsistentClassifier(LogisticRegression()), n_pairs=500,
                               beta=np.inf, random_state=0).fit(X, golden, groups=groups)
    assert model.annotation_tie_rate_ == model.comparisons_.tie_rate > 0.2
    assert model.annotation_error_rate_ == pytest.approx(model.annotation_tie_rate_ / 2)


# -- empty responses ----------------------------------------------------------------------

ITEMS = {"prompt": ["Hi", "Hi", "Tell me a story.", "Tell me a story."],
         "response": ["Hello! How can I help?", "", "   ", "Once upon a time, " * 150]}
TRIPLES = {"prompt": ["Hi", "Why?"], "chosen": ["Hello!", ""], "rejected": ["", "Because."]}


@pytest.mark.parametrize("front_end", [SentenceEmbedder(), TextVectorizer(TfidfVectorizer())])
def test_empty_responses_are_refused_by_default_with_the_option_named(front_end):
    with pytest.raises(ValueError, match=r"X\['response'\] has an empty string at row 1 .*"
                                         r"allow_empty=True"):
        front_end.fit_transform(ITEMS)
    with pytest.raises(ValueError, match=r"X\['chosen'\] has an empty string at row 1"):
        front_end.fit_transform(TRIPLES)


def test_empty_prompts_are_refused_even_when_empty_responses_are_allowed():
    with pytest.raises(ValueError, match=r"X\['prompt'\] has an empty string at row 0") as err:
        SentenceEmbedder(allow_empty=True).transform({"prompt": [" "], "response": ["Hi"]})
    assert "allow_empty" not in str(err.value)


@pytest.mark.parametrize("combine", ["concat", "text", "response"])
@pytest.mark.parametrize("long_text", ["truncate", "mean"])
def test_empty_responses_are_embedded_when_allowed(combine, long_text):
    embedder = SentenceEmbedder(combine=combine, long_text=long_text, allow_empty=True,
                                cache=EmbeddingCache())
    items = embedder.transform(ITEMS)
    width = {"concat": 768, "text": 384, "response": 384}[combine]
    assert items.shape == (4, width) and np.isfinite(items).all()
    np.testing.assert_allclose(np.linalg.norm(items, axis=1), np.sqrt(width // 384), rtol=1e-5)
    triples = embedder.transform(TRIPLES)
    assert triples.shape == (2, 2, width) and np.isfinite(triples).all()
    if combine == "response":  # the empty response alone embeds alike whatever its prompt
        np.testing.assert_array_equal(triples[0, 1], triples[1, 0])
    np.testing.assert_allclose(embedder.transform(ITEMS), items, rtol=1e-6)  # from the cache


def test_text_vectorizer_gives_empty_responses_a_row():
    vectorizer = TextVectorizer(TfidfVectorizer(), allow_empty=True).fit(ITEMS)
    out = vectorizer.transform(ITEMS)
    assert out.shape == (4, vectorizer.n_features_out_)
    np.testing.assert_array_equal(out[1], 0.0)
    assert out[3].any()
    assert vectorizer.transform(TRIPLES).shape == (2, 2, vectorizer.n_features_out_)


def _write(path, records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def test_loaders_report_the_empty_answers_they_drop(tmp_path):
    scored = _write(tmp_path / "scored.jsonl", [
        {"question_id": "q", "prompt": "2+2?", "response": r, "score": s}
        for r, s in [("4", 10), ("", 1), ("  \n", 1), ("5", 2)]])
    with pytest.warns(UserWarning, match=r"dropped 2 responses that are empty.*drop_empty=False"):
        data = load_scored_responses(scored)
    assert len(data) == 2 and data.attrs["n_dropped_empty"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = load_scored_responses(scored, drop_empty=False)
    assert len(kept) == 4 and kept.attrs["n_dropped_empty"] == 0

    hh = _write(tmp_path / "hh.jsonl", [
        {"chosen": "\n\nHuman: Q\n\nAssistant: A", "rejected": "\n\nHuman: Q\n\nAssistant: B"},
        {"chosen": "\n\nHuman: Q\n\nAssistant: ", "rejected": "\n\nHuman: Q\n\nAssistant: C"}])
    with pytest.warns(UserWarning, match=r"load_hh_rlhf dropped 1 comparisons"):
        data = load_hh_rlhf(hh)
    assert len(data) == 1 and data.attrs["n_dropped_empty"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_hh_rlhf(hh, drop_empty=False).attrs["n_dropped_empty"] == 0
