"""Best-of-N reranking of new responses: from texts to the index of the best one."""

from dataclasses import dataclass

import numpy as np
from sklearn.pipeline import Pipeline

__all__ = ["RerankResult", "rerank", "rerank_table", "score_texts"]


def score_texts(model, items):
    """Rewards of items and, for an ensemble, their uncertainty, in one call.

    Parameters
    ----------
    model : estimator
        A fitted model from texts to rewards: a
        :class:`~sklearn.pipeline.Pipeline` whose last step is a reward model
        (e.g. a :class:`~skreward.SentenceEmbedder` then a reward model), or
        any estimator whose ``decision_function`` takes the table.
    items : DataFrame or dict of lists
        Columns ``prompt`` and ``response``.

    Returns
    -------
    rewards : ndarray of shape (n_items,)
    uncertainty : ndarray of shape (n_items,) or None
        The reward model's ``reward_std`` (the disagreement of a
        :class:`~skreward.RewardEnsemble`'s members); ``None`` when it has none.

    Examples
    --------
    >>> from skreward import score_texts
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skreward import OrderConsistentClassifier, TextVectorizer
    >>> triples = {"prompt": ["Hi", "Help?", "Hello", "Bye"],
    ...            "chosen": ["Hello! How can I help you today?", "Sure, happy to help you.",
    ...                       "Hello, how can I help?", "Goodbye, take care of yourself!"],
    ...            "rejected": ["No.", "Go away.", "No.", "Whatever."]}
    >>> model = make_pipeline(TextVectorizer(TfidfVectorizer()),
    ...                       OrderConsistentClassifier(LogisticRegression())).fit(triples)
    >>> rewards, uncertainty = score_texts(model, {"prompt": ["Hi", "Hi"],
    ...                                            "response": ["Hello!", "Go away."]})
    >>> rewards.shape, uncertainty
    ((2,), None)
    """
    final, X = model, items
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        X = model[:-1].transform(items)
        final = model.steps[-1][1]
    rewards = np.asarray(final.decision_function(X), dtype=np.float64).ravel()
    std = getattr(final, "reward_std", None)
    uncertainty = None if std is None else np.asarray(std(X), dtype=np.float64).ravel()
    return rewards, uncertainty


@dataclass(frozen=True)
class RerankResult:
    """The outcome of :func:`rerank`: the best response and the candidates in order.

    Attributes
    ----------
    best : int
        Index (in the input order) of the response of highest reward; the
        first of them on a tie.
    order : ndarray of shape (n_responses,)
        Indices of the responses from best to worst.
    rewards : ndarray of shape (n_responses,)
        Reward of each response, in the input order.
    sorted_rewards : ndarray of shape (n_responses,)
        ``rewards[order]``, highest first.
    uncertainty : ndarray of shape (n_responses,) or None
        Standard deviation of an ensemble's members' rewards, in the input
        order; ``None`` for a single reward model.
    """

    best: int
    order: np.ndarray
    rewards: np.ndarray
    sorted_rewards: np.ndarray
    uncertainty: object = None


def _ranked(rewards, uncertainty):
    order = np.argsort(-rewards, kind="stable")
    return RerankResult(best=int(order[0]), order=order, rewards=rewards,
                        sorted_rewards=rewards[order], uncertainty=uncertainty)


def _check_strings(values, name):
    if isinstance(values, str) or not hasattr(values, "__len__"):
        raise TypeError(f"{name} must be a list of strings; got {type(values).__name__}.")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must hold at least one response; got none.")
    bad = next((i for i, v in enumerate(values) if not isinstance(v, str)), None)
    if bad is not None:
        raise TypeError(f"{name}[{bad}] must be a string; got {type(values[bad]).__name__}.")
    return values


def rerank(model, prompt, responses):
    """Pick the best of N candidate responses to one prompt (Best-of-N selection).

    Parameters
    ----------
    model : estimator
        A fitted model from texts to rewards (see :func:`score_texts`).
    prompt : str
        The prompt.
    responses : list of str
        The candidate responses.

    Returns
    -------
    result : RerankResult
        ``best`` (index of the best response), ``order``, ``rewards``,
        ``sorted_rewards`` and, for an ensemble, ``uncertainty``.

    See Also
    --------
    rerank_table : The same for many prompts at once.

    Examples
    --------
    >>> from skreward import rerank
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skreward import OrderConsistentClassifier, TextVectorizer
    >>> triples = {"prompt": ["Hi", "Help?", "Hello", "Bye"],
    ...            "chosen": ["Hello! How can I help you today?", "Sure, happy to help you.",
    ...                       "Hello, how can I help?", "Goodbye, take care of yourself!"],
    ...            "rejected": ["No.", "Go away.", "No.", "Whatever."]}
    >>> model = make_pipeline(TextVectorizer(TfidfVectorizer()),
    ...                       OrderConsistentClassifier(LogisticRegression())).fit(triples)
    >>> result = rerank(model, "How do I boil an egg?",
    ...                 ["No.", "Sure, happy to help: simmer it for nine minutes."])
    >>> result.best, len(result.sorted_rewards)
    (1, 2)
    """
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a string; got {type(prompt).__name__}.")
    responses = _check_strings(responses, "responses")
    rewards, uncertainty = score_texts(
        model, {"prompt": [prompt] * len(responses), "response": responses})
    return _ranked(rewards, uncertainty)


def rerank_table(model, table):
    """Best-of-N selection for many prompts in one pass of the model.

    Parameters
    ----------
    model : estimator
        A fitted model from texts to rewards (see :func:`score_texts`).
    table : DataFrame or dict of lists
        Either one row per candidate, columns ``prompt`` and ``response``
        (candidates of a prompt are the rows with that prompt, in their
        order), or one row per prompt, columns ``prompt`` and ``responses``
        (a list of candidates each).

    Returns
    -------
    result : DataFrame
        One row per prompt, in order of first appearance: ``prompt``, ``n``
        (candidates), ``best`` (index of the best candidate among the
        prompt's), ``best_response``, ``best_reward``, ``order``,
        ``sorted_rewards``, ``uncertainty`` (lists, in ``order``; ``None``
        without an ensemble) and ``rows`` (the table rows of the candidates,
        for the one-row-per-candidate form).

    Examples
    --------
    >>> from skreward import rerank_table
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skreward import OrderConsistentClassifier, TextVectorizer
    >>> triples = {"prompt": ["Hi", "Help?", "Hello", "Bye"],
    ...            "chosen": ["Hello! How can I help you today?", "Sure, happy to help you.",
    ...                       "Hello, how can I help?", "Goodbye, take care of yourself!"],
    ...            "rejected": ["No.", "Go away.", "No.", "Whatever."]}
    >>> model = make_pipeline(TextVectorizer(TfidfVectorizer()),
    ...                       OrderConsistentClassifier(LogisticRegression())).fit(triples)
    >>> table = {"prompt": ["Hi", "Hi", "Bye"],
    ...          "response": ["Go away.", "Hello! How can I help?", "Goodbye, take care!"]}
    >>> rerank_table(model, table)[["prompt", "n", "best"]]
      prompt  n  best
    0     Hi  2     1
    1    Bye  1     0
    """
    import pandas as pd

    frame = pd.DataFrame(table) if isinstance(table, dict) else table
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("table must be a DataFrame or a dict of lists with columns "
                        f"('prompt', 'response') or ('prompt', 'responses'); got "
                        f"{type(table).__name__}.")
    if "prompt" not in frame or not ({"response", "responses"} & set(frame.columns)):
        raise ValueError("table must have columns ('prompt', 'response'), one row per "
                         "candidate, or ('prompt', 'responses'), one list per prompt; got "
                         f"columns {list(frame.columns)}.")
    if "responses" in frame and "response" not in frame:
        lists = [_check_strings(r, f"responses[{i}]") for i, r in enumerate(frame["responses"])]
        prompts = [p for p, r in zip(frame["prompt"], lists) for _ in r]
        responses = [x for r in lists for x in r]
        groups = np.repeat(np.arange(len(lists)), [len(r) for r in lists])
        keys = list(frame["prompt"])
        rows = [None] * len(lists)
    else:
        prompts, responses = list(frame["prompt"]), list(frame["response"])
        codes, keys = pd.factorize(pd.Series(prompts, dtype=object), sort=False)
        groups, keys = codes, list(keys)
        rows = [np.flatnonzero(codes == g).tolist() for g in range(len(keys))]
    rewards, uncertainty = score_texts(model, {"prompt": prompts, "response": responses})
    out = []
    for g, key in enumerate(keys):
        members = np.flatnonzero(groups == g)
        ranked = _ranked(rewards[members], None if uncertainty is None
                         else uncertainty[members])
        out.append({
            "prompt": key, "n": len(members), "best": ranked.best,
            "best_response": responses[members[ranked.best]],
            "best_reward": float(ranked.sorted_rewards[0]), "order": ranked.order.tolist(),
            "sorted_rewards": ranked.sorted_rewards.tolist(),
            "uncertainty": None if ranked.uncertainty is None
            else ranked.uncertainty[ranked.order].tolist(),
            "rows": rows[g]})
    return pd.DataFrame(out)
