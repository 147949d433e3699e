"""TextVectorizer: responses of items and triples through a fitted scikit-learn vectorizer."""

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline

from skreward import OrderConsistentClassifier, TextVectorizer
from skreward.datasets import load_hh_rlhf, load_scored_responses

DATA = Path(__file__).parent / "data"  # a sample of the real files; see its README.md

TRIPLES = {"prompt": ["Hi", "Hi"],
           "chosen": ["Hello, how can I help?", "Hello there!"],
           "rejected": ["Go away.", "What do you want?"]}


@pytest.fixture(scope="module")
def hh():
    """39 real HH-RLHF comparisons (78 responses)."""
    with pytest.warns(UserWarning, match="dropped 1 comparisons"):  # the sample's empty answer
        return load_hh_rlhf(DATA / "hh_rlhf_harmless_base_test_sample.jsonl.gz")


@pytest.fixture(scope="module")
def answer_lines():
    """The non-empty lines of 63 real arena-bench answers: more than 256 texts."""
    with pytest.warns(UserWarning, match="dropped 1 responses"):
        answers = load_scored_responses(DATA / "arena_bench_v1_scored_sample.jsonl.gz")["response"]
    return {"response": [line for answer in answers for line in answer.splitlines()
                         if line.strip()]}


def test_items_and_triples_have_the_documented_shapes():
    vectorizer = TextVectorizer(TfidfVectorizer()).fit(TRIPLES)
    vocabulary = vectorizer.vectorizer_.vocabulary_
    # Fitted on both answers of every triple, never on the prompt.
    assert {"help", "away", "want"} <= set(vocabulary) and "hi" not in vocabulary
    X = vectorizer.transform(TRIPLES)
    assert X.shape == (2, 2, len(vocabulary)) == (2, 2, vectorizer.n_features_out_)
    assert X.dtype == np.float32
    items = vectorizer.transform({"response": TRIPLES["chosen"] + TRIPLES["rejected"]})
    np.testing.assert_array_equal(items, np.concatenate([X[:, 0], X[:, 1]]))
    # Words never seen in fit carry no features.
    np.testing.assert_array_equal(vectorizer.transform({"response": ["zebra quartz"]}), 0.0)


@pytest.mark.slow
def test_default_is_char_ngram_tfidf_reduced_to_256_dense_dimensions(hh, answer_lines):
    n_texts = len(answer_lines["response"])
    assert n_texts > 256
    vectorizer = TextVectorizer().fit(answer_lines)
    X = vectorizer.transform(answer_lines)
    assert X.shape == (n_texts, 256) and vectorizer.n_features_out_ == 256
    tfidf, svd = vectorizer.vectorizer_.steps[0][1], vectorizer.vectorizer_.steps[1][1]
    assert tfidf.analyzer == "char_wb" and tfidf.ngram_range == (2, 5)
    assert svd.random_state == 0
    np.testing.assert_array_equal(  # deterministic
        X, TextVectorizer().fit(answer_lines).transform(answer_lines))
    assert TextVectorizer().vectorizer is None  # the default is built in fit, never shared
    # Fitted on fewer responses than 256, it keeps one dimension per response.
    small = TextVectorizer().fit(hh)
    assert small.transform(hh).shape == (39, 2, 78) and small.n_features_out_ == 78


def test_learns_in_a_cross_validated_pipeline_from_training_folds_only(hh):
    groups = pd.factorize(hh["prompt"])[0]
    model = make_pipeline(TextVectorizer(TfidfVectorizer()),
                          OrderConsistentClassifier(LogisticRegression()))
    cv = GroupKFold(3)
    result = cross_validate(model, hh, groups=groups, cv=cv, return_estimator=True,
                            return_train_score=True)
    for fitted, (train, test) in zip(result["estimator"], cv.split(hh, groups=groups)):
        words = lambda rows: set(TfidfVectorizer().fit(  # noqa: E731
            pd.concat([hh["chosen"][rows], hh["rejected"][rows]])).vocabulary_)
        vocabulary = set(fitted[0].vectorizer_.vocabulary_)
        # The vocabulary is the training fold's: words only the held-out fold has are unknown.
        assert vocabulary == words(train) and words(test) - vocabulary
    # It learns the training comparisons; held-out accuracy on real data (well above
    # chance on a few hundred comparisons) is measured by benchmarks/bench_real_data.py.
    assert result["train_score"].min() > 0.9, result["train_score"]
    assert ((result["test_score"] >= 0) & (result["test_score"] <= 1)).all()


def test_fitted_vectorizer_pickles():
    vectorizer = TextVectorizer(TfidfVectorizer()).fit(TRIPLES)
    again = pickle.loads(pickle.dumps(vectorizer))
    np.testing.assert_array_equal(again.transform(TRIPLES), vectorizer.transform(TRIPLES))


def test_transform_before_fit_raises():
    with pytest.raises(NotFittedError):
        TextVectorizer().transform(TRIPLES)


@pytest.mark.parametrize("X, match", [
    ({"prompt": ["Hi"], "answer": ["Hello"]}, r"columns \('prompt', 'response'\)"),
    ({"chosen": ["Hello", "  "], "rejected": ["Go", "No"]}, r"X\['chosen'\] has an empty string"),
    ({"response": ["Hello", None]}, r"X\['response'\] has a missing value"),
    (["Hello"], "pandas DataFrame or a dict of lists"),
])
def test_bad_input_is_a_clear_error_naming_the_column(X, match):
    with pytest.raises(ValueError, match=match):
        TextVectorizer(TfidfVectorizer()).fit(X)


def test_vectorizer_without_transform_is_rejected():
    with pytest.raises(ValueError, match="'vectorizer' parameter"):
        TextVectorizer(LogisticRegression()).fit(TRIPLES)
