"""Length bias: how much a reward ranks the responses of a prompt by their length."""

import numpy as np

from ._best_of_n import prompt_spearman_score
from .._validation import check_groups, check_rewards


def response_lengths(texts):
    """Length of every response in characters, as the length metrics and controls read it.

    Parameters
    ----------
    texts : sequence of str
        Responses.

    Returns
    -------
    lengths : ndarray of shape (n_texts,)
        ``len(text)`` of each text, float64.

    Examples
    --------
    >>> from skreward.metrics import response_lengths
    >>> response_lengths(["Hi!", "", "Hello there."])
    array([ 3.,  0., 12.])
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings (one per response); got one str.")
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts must hold strings; item {bad[0]} is a "
                        f"{type(texts[bad[0]]).__name__}.")
    return np.array([len(t) for t in texts], dtype=np.float64)


def length_correlation(lengths, y_score, groups=None):
    """Mean Spearman rank correlation of rewards with response length, within prompts.

    How much a reward model is a length meter: +1 when it ranks the responses
    of every prompt from shortest to longest, -1 from longest to shortest, 0
    when length does not order its rewards. Correlations are computed among
    the candidates of each prompt (so prompts that call for long answers do
    not count) and averaged over prompts; prompts whose lengths or rewards
    are all equal have no correlation and are left out.

    Only the order of the lengths within a prompt matters, so any measure
    that grows with length gives the same value: characters (what strings
    give, by :func:`response_lengths`), words or tokens rank responses
    nearly alike. With two responses per prompt (comparisons such as
    HH-RLHF's chosen and rejected answers) each prompt counts +1 or -1 and
    the mean is ``P(the longer one gets the higher reward) - P(the shorter
    one does)``.

    The signature is that of the other item metrics, ``(y_true, y_score,
    groups)``, with the lengths in place of the golden reward; applied to the
    golden reward itself (``length_correlation(lengths, golden, groups)``) it
    tells how much length is worth on the data, a reference for the
    reward model's value.

    Parameters
    ----------
    lengths : array-like of shape (n_items,)
        Length of every response (non-negative numbers, e.g. characters or
        tokens), or the responses themselves (strings: their characters are
        counted).
    y_score : array-like of shape (n_items,)
        Reward of every response, e.g. a reward model's ``decision_function``.
    groups : array-like of shape (n_items,), default=None
        Prompt id of every response; ``None`` treats all as one prompt.

    Returns
    -------
    correlation : float
        Mean over prompts, in [-1, 1].

    See Also
    --------
    skreward.metrics.prompt_spearman_score : The same mean, with the golden reward.
    skreward.LengthControlledReward : A reward with its log-length part removed.

    Examples
    --------
    >>> from skreward.metrics import length_correlation
    >>> responses = ["Sure.", "Sure, here it is.", "No.", "Let me explain at length."]
    >>> length_correlation(responses, [0.1, 0.9, 0.2, 0.7], groups=[0, 0, 1, 1])
    1.0
    >>> length_correlation([5, 17, 3, 25], [0.1, 0.9, 0.7, 0.2], groups=[0, 0, 1, 1])
    0.0
    """
    if isinstance(lengths, str):
        raise TypeError("lengths must be one length (or one response text) per item; got one str.")
    if hasattr(lengths, "__len__") and len(lengths) and all(isinstance(v, str) for v in lengths):
        lengths = response_lengths(lengths)
    lengths = check_rewards(lengths, len(np.ravel(lengths)), input_name="lengths")
    if len(lengths) == 0:
        raise ValueError("lengths must hold at least one item; got 0.")
    if lengths.min() < 0:
        raise ValueError(f"lengths must be non-negative (characters, words or tokens); got "
                         f"{lengths.min():g} at item {int(np.argmin(lengths))}.")
    y_score = check_rewards(y_score, len(lengths), input_name="y_score")
    groups = np.zeros(len(lengths)) if groups is None else check_groups(groups, len(lengths))
    try:
        return prompt_spearman_score(lengths, y_score, groups)
    except ValueError as error:
        if "undefined" not in str(error):
            raise
        raise ValueError("length_correlation is undefined: within every prompt, the lengths or "
                         "the rewards are all equal.") from None
