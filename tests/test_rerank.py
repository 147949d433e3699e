"""Best-of-N reranking of new responses: rerank, rerank_table, score_texts."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skreward import (BTRegressor, OrderConsistentClassifier, RewardEnsemble, TextVectorizer,
                      rerank, rerank_table, score_texts)

TRIPLES = {
    "prompt": ["Hi", "Help me", "Hello", "Bye", "Thanks", "Question"],
    "chosen": ["Hello! How can I help you today?", "Sure, I am happy to help you.",
               "Hello, how can I help?", "Goodbye, take care of yourself!",
               "You are welcome, glad to help!", "Good question, here is an answer."],
    "rejected": ["No.", "Go away.", "No.", "Whatever.", "Hm.", "Don't know."],
}


class LengthReward(BaseEstimator):
    """A model from texts whose reward is the response length (known order)."""

    def decision_function(self, items):
        return np.array([float(len(r)) for r in items["response"]])


@pytest.fixture(scope="module")
def model():
    return make_pipeline(TextVectorizer(TfidfVectorizer()),
                         OrderConsistentClassifier(LogisticRegression())).fit(TRIPLES)


def test_rerank_orders_by_reward_and_breaks_ties_by_position():
    result = rerank(LengthReward(), "p", ["ab", "abcd", "a", "abcd"])
    assert result.best == 1
    assert result.order.tolist() == [1, 3, 0, 2]
    np.testing.assert_array_equal(result.rewards, [2, 4, 1, 4])
    np.testing.assert_array_equal(result.sorted_rewards, [4, 4, 2, 1])
    assert result.uncertainty is None


def test_rerank_matches_the_pipeline(model):
    responses = ["No.", "Hello! How can I help you today?", "Whatever."]
    result = rerank(model, "Hi", responses)
    expected = model.decision_function({"prompt": ["Hi"] * 3, "response": responses})
    np.testing.assert_array_equal(result.rewards, expected)
    assert result.best == int(np.argmax(expected)) == 1


def test_rerank_table_long_and_list_forms_agree():
    long = pd.DataFrame({"prompt": ["q1", "q2", "q1", "q2", "q1"],
                         "response": ["a", "bbb", "ccc", "d", "ee"]})
    out = rerank_table(LengthReward(), long)
    assert out["prompt"].tolist() == ["q1", "q2"]
    assert out["n"].tolist() == [3, 2]
    assert out["best"].tolist() == [1, 0]
    assert out["best_response"].tolist() == ["ccc", "bbb"]
    assert out["rows"].tolist() == [[0, 2, 4], [1, 3]]
    assert out["sorted_rewards"].tolist() == [[3.0, 2.0, 1.0], [3.0, 1.0]]
    lists = rerank_table(LengthReward(), {"prompt": ["q1", "q2"],
                                          "responses": [["a", "ccc", "ee"], ["bbb", "d"]]})
    for column in ("prompt", "n", "best", "best_response", "order", "sorted_rewards"):
        assert lists[column].tolist() == out[column].tolist()


def test_ensemble_uncertainty_comes_with_the_ranking(comparisons, testbed, one_torch_thread):
    X, y = comparisons
    ensemble = RewardEnsemble(BTRegressor(max_epochs=2, module__hidden_sizes=(8,)),
                              n_estimators=3, random_state=0).fit(X[:400], y[:400])

    class Items(BaseEstimator):  # a front end that looks texts up in the testbed
        def fit(self, X, y=None):
            return self

        def __sklearn_is_fitted__(self):
            return True

        def transform(self, items):
            return testbed.X_test[[int(r) for r in items["response"]]]

    model = make_pipeline(Items(), ensemble)
    rewards, std = score_texts(model, {"prompt": ["p"] * 5, "response": list("01234")})
    np.testing.assert_array_equal(rewards, ensemble.decision_function(testbed.X_test[:5]))
    np.testing.assert_array_equal(std, ensemble.reward_std(testbed.X_test[:5]))
    result = rerank(model, "p", list("01234"))
    np.testing.assert_array_equal(result.uncertainty, std)
    table = rerank_table(model, {"prompt": ["p"] * 5, "response": list("01234")})
    assert table["uncertainty"][0] == std[result.order].tolist()


@pytest.mark.parametrize("prompt, responses, error, message", [
    (3, ["a"], TypeError, "prompt must be a string"),
    ("p", "abc", TypeError, "responses must be a list of strings"),
    ("p", [], ValueError, "at least one response"),
    ("p", ["a", None], TypeError, r"responses\[1\] must be a string"),
])
def test_rerank_refuses_bad_input(prompt, responses, error, message):
    with pytest.raises(error, match=message):
        rerank(LengthReward(), prompt, responses)


def test_rerank_table_refuses_missing_columns():
    with pytest.raises(ValueError, match="must have columns"):
        rerank_table(LengthReward(), {"prompt": ["a"], "text": ["b"]})
    with pytest.raises(TypeError, match="table must be a DataFrame"):
        rerank_table(LengthReward(), [("a", "b")])
