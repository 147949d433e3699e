"""SentenceEmbedder on a handful of real HH-RLHF texts (the cache: tests/test_cache.py)."""

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skreward import EmbeddingCache, OrderConsistentClassifier, SentenceEmbedder
from skreward.datasets import load_hh_rlhf

HH_FILE = Path(__file__).parent / "data" / "hh_rlhf_harmless_base_test_sample.jsonl.gz"


@pytest.fixture(scope="module")
def hh():
    """The first six real comparisons of HH-RLHF harmless (test)."""
    with pytest.warns(UserWarning, match="dropped 1 comparisons"):  # the sample's empty answer
        return load_hh_rlhf(HH_FILE).iloc[:6].reset_index(drop=True)


@pytest.fixture(scope="module")
def embedder():
    """One embedder (one model load) shared by the tests that need no special settings."""
    return SentenceEmbedder(cache=EmbeddingCache())


def test_items_and_triples_have_the_documented_shapes(hh, embedder):
    triples = embedder.transform(hh)
    assert triples.shape == (6, 2, 768) and triples.dtype == np.float32
    items = embedder.transform({"prompt": hh["prompt"].tolist(),
                                "response": hh["chosen"].tolist()})
    assert items.shape == (6, 768)
    np.testing.assert_array_equal(items, triples[:, 0])
    response_only = SentenceEmbedder(combine="response").transform(hh[["chosen", "rejected"]])
    assert response_only.shape == (6, 2, 384)
    np.testing.assert_allclose(np.linalg.norm(response_only, axis=-1), 1.0, rtol=1e-5)


def test_final_turn_of_a_long_dialogue_reaches_the_model(hh):
    # A context far beyond the model's 256-token window, ending with a real last human turn.
    long_prompt = "\n\n".join(hh["prompt"]) * 3
    assert len(long_prompt.split()) > 1000
    chosen, rejected = hh.loc[0, "chosen"], hh.loc[0, "rejected"]
    other_start = "Human: something else entirely.\n\n" + long_prompt[500:]
    items = {"prompt": [long_prompt, long_prompt, other_start],
             "response": [chosen, rejected, chosen]}
    for combine in ("text", "concat"):
        X = SentenceEmbedder(combine=combine).transform(items)
        # The response decides the embedding; the start of the long context does not.
        assert np.abs(X[0] - X[1]).max() > 1e-2, combine
        np.testing.assert_allclose(X[0], X[2], atol=1e-5, err_msg=combine)
    # A prompt embedded alone keeps its end: the last human turn changes it.
    changed_end = long_prompt + "\n\nHuman: and how do I hide it from the police?"
    X = SentenceEmbedder(combine="concat").transform(
        {"prompt": [long_prompt, changed_end], "response": [chosen, chosen]})
    assert np.abs(X[0, :384] - X[1, :384]).max() > 1e-2


def test_long_responses_count_whole_with_long_text_mean(hh):
    # A response four times the model's window; only its last part differs.
    start = " ".join([hh.loc[i, "chosen"] for i in range(6)] * 4)
    items = {"response": [start + " I will not help you hurt anyone.",
                          start + " Here is how to hurt them without getting caught."]}
    truncated = SentenceEmbedder(combine="response").transform(items)
    np.testing.assert_allclose(truncated[0], truncated[1], atol=1e-6)  # the end is cut off
    whole = SentenceEmbedder(combine="response", long_text="mean").transform(items)
    assert np.abs(whole[0] - whole[1]).max() > 1e-3
    np.testing.assert_allclose(np.linalg.norm(whole, axis=1), 1.0, rtol=1e-5)


def test_clones_share_an_in_memory_cache_and_pickles_stay_small(hh, embedder):
    X = embedder.transform(hh)
    copy = clone(embedder)
    assert copy.cache is embedder.cache
    blob = pickle.dumps(embedder)
    assert len(blob) < 10_000  # neither the model nor the cached vectors are pickled
    np.testing.assert_array_equal(pickle.loads(blob).transform(hh), X)


def test_model_and_cache_are_kept_until_their_parameters_change(hh, embedder, tmp_path):
    embedder.transform(hh.iloc[:1])
    model, namespace = embedder._load(), embedder._namespace()
    pickle.dumps(embedder)
    assert embedder._load() is model  # pickling leaves the live embedder's model in place
    assert "_memos" not in clone(embedder).__dict__
    assert "_memos" not in pickle.loads(pickle.dumps(embedder)).__dict__
    assert list(embedder.get_params()) == list(SentenceEmbedder().get_params())
    other = clone(embedder).set_params(max_seq_length=128, cache=tmp_path / "a")
    X = other.transform(hh.iloc[:1])
    assert other._load() is not model and other._load().max_seq_length == 128
    assert other._namespace() != namespace and "max_seq_length=128" in other._namespace()
    assert other._cache().directory == str(tmp_path / "a")
    other.set_params(cache=tmp_path / "b")  # a new directory: a new cache, the same model
    np.testing.assert_array_equal(other.transform(hh.iloc[:1]), X)
    assert other._cache().directory == str(tmp_path / "b") and any((tmp_path / "b").iterdir())


def test_in_a_pipeline_before_a_reward_model(hh, embedder):
    model = make_pipeline(clone(embedder), OrderConsistentClassifier(LogisticRegression()))
    model.fit(hh)
    assert model.score(hh) > 0.5
    rewards = model.decision_function({"prompt": hh["prompt"].tolist(),
                                       "response": hh["chosen"].tolist()})
    assert rewards.shape == (6,)


def test_missing_model_says_how_to_provide_one(tmp_path):
    items = {"prompt": ["Hi"], "response": ["Hello"]}
    with pytest.raises(ValueError, match="model=.*no-model.*model=None for the bundled"):
        SentenceEmbedder(model=tmp_path / "no-model").transform(items)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="model=.*could not be loaded"):
        SentenceEmbedder(model=tmp_path / "empty").transform(items)


@pytest.mark.parametrize("X, match", [
    ({"prompt": ["a"], "answer": ["b"]}, r"columns \('prompt', 'response'\)"),
    ({"response": ["b"]}, r"missing column\(s\) \['prompt'\]"),
    ({"prompt": ["a"], "chosen": ["b"], "rejected": [""]}, r"X\['rejected'\] has an empty string at row 0"),
    ({"prompt": ["a", None], "response": ["b", "c"]}, r"X\['prompt'\] has a missing value"),
    (pd.DataFrame({"prompt": ["a"], "response": [np.nan]}), r"X\['response'\] has a missing value"),
    (pd.DataFrame({"prompt": ["a"], "response": pd.array([pd.NA], dtype="string")}),
     r"X\['response'\] has a missing value"),
    ({"prompt": ["a"], "response": [3]}, r"X\['response'\] has a non-string value \(int\)"),
    ({"prompt": ["a", "b"], "response": ["c"]}, "same length"),
    (["a", "b"], "DataFrame or a dict of lists"),
])
def test_bad_input_is_a_clear_error_naming_the_column(X, match):
    with pytest.raises(ValueError, match=match):
        SentenceEmbedder().fit(X)


def test_invalid_parameter_is_rejected():
    with pytest.raises(ValueError, match="combine"):
        SentenceEmbedder(combine="sum").fit({"prompt": ["a"], "response": ["b"]})
