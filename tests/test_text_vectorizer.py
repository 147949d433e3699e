"""TextVectorizer: responses of items and triples through a fitted scikit-learn vectorizer."""

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skreward import OrderConsistentClassifier, TextVectorizer
from skreward.datasets import load_hh_rlhf

HH_FILE = Path(__file__).parents[2] / "shared" / "data" / "hh_rlhf_harmless_base_test.jsonl.gz"

TRIPLES = {"prompt": ["Hi", "Hi"],
           "chosen": ["Hello, how can I help?", "Hello there!"],
           "rejected": ["Go away.", "What do you want?"]}


@pytest.fixture(scope="module")
def hh():
    if not HH_FILE.is_file():
        pytest.skip(f"real data not found at {HH_FILE.parent}")
    return load_hh_rlhf(HH_FILE).iloc[:400].reset_index(drop=True)


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


def test_default_is_char_ngram_tfidf_reduced_to_256_dense_dimensions(hh):
    vectorizer = TextVectorizer().fit(hh)
    X = vectorizer.transform(hh)
    assert X.shape == (400, 2, 256) and vectorizer.n_features_out_ == 256
    tfidf, svd = vectorizer.vectorizer_.steps[0][1], vectorizer.vectorizer_.steps[1][1]
    assert tfidf.analyzer == "char_wb" and tfidf.ngram_range == (2, 5)
    assert svd.random_state == 0
    np.testing.assert_array_equal(X, TextVectorizer().fit(hh).transform(hh))  # deterministic
    assert TextVectorizer().vectorizer is None  # the default is built in fit, never shared


def test_learns_human_preferences_in_a_cross_validated_pipeline(hh):
    groups = pd.factorize(hh["prompt"])[0]
    model = make_pipeline(TextVectorizer(), OrderConsistentClassifier(LogisticRegression()))
    scores = cross_val_score(model, hh, groups=groups, cv=GroupKFold(3))
    # 400 comparisons, 3 folds: 0.60-0.63 per fold when measured; chance is 0.5.
    assert scores.min() > 0.57, scores


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
