"""Best-of-N: pick the highest-reward candidate of each prompt, judge it by the golden reward.

Everything is vectorised over prompts: candidates are laid out in a padded
``(n_prompts, max_candidates)`` table. By default the expectation over
uniformly random n-candidate subsets is computed exactly, in closed form
(``_best_of_n_exact.py``); with ``n_repeats`` set, random subsets are drawn
for all prompts and repeats at once instead.
"""

import numbers

import numpy as np
from scipy.stats import rankdata
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._grouping import padded_table
from .._validation import check_groups, check_rewards
from ._best_of_n_exact import (best_first, expected_picks, row_means, sorted_by_score,
                               within_prompt_quantile)

METRICS = ("improvement", "golden", "oracle_fraction", "quantile")

#: Constraints of the Best-of-N settings: the one definition used by the functions below
#: (each checks those of its own arguments) and by :class:`BestOfNScorer`.
BEST_OF_N_CONSTRAINTS = {
    "n": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "metric": [StrOptions(set(METRICS))],
    "n_repeats": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "random_state": ["random_state"],
}
_ITEMS = {"y_true": ["array-like"], "y_score": ["array-like"], "groups": ["array-like", None]}


def _padded_table(y_true, y_score, groups):
    """Validated golden and learned rewards as (n_prompts, max_candidates) tables; padding is NaN."""
    y_true = check_rewards(y_true, len(np.ravel(y_true)), input_name="y_true")
    y_score = check_rewards(y_score, len(y_true), input_name="y_score")
    groups = check_groups(groups, len(y_true))
    if len(y_true) == 0:
        raise ValueError("y_true must hold at least one item; got 0.")
    return padded_table(groups, y_true, y_score, fill=np.nan)


def _check_candidates(golden, score, counts):
    if counts.min() < 2:
        raise ValueError(
            f"groups: Best-of-N needs at least two candidates per prompt; {np.sum(counts < 2)} "
            "prompts have one. Drop them, or make sure every test fold keeps whole prompts "
            "(GroupKFold with groups=prompt ids)."
        )
    return golden, score, counts


def check_ns(ns, input_name="ns"):
    """The values of N as a non-empty 1-D int array, each at least 1."""
    array = np.asarray(ns)
    if array.ndim != 1 or len(array) == 0 or array.dtype.kind not in "iu" or array.min() < 1:
        raise ValueError(
            f"{input_name} must be a non-empty sequence of integers >= 1 (the values of N); "
            f"got {ns!r}."
        )
    return array


def _check_n(counts, n, input_name="n"):
    if n > counts.min():
        where = "" if input_name == "n" else f"{input_name}: "
        raise ValueError(
            f"{where}n={n} is larger than the candidates of some prompts (the smallest "
            f"prompt has {counts.min()}); use n <= {counts.min()} or drop those prompts."
        )


def _subsets(counts, n, n_repeats, rng, input_name="n"):
    """Indices (n_repeats, n_prompts, n) of random n-candidate subsets of each prompt."""
    _check_n(counts, n, input_name)
    keys = rng.random((n_repeats, len(counts), counts.max()))
    keys[:, np.arange(counts.max()) >= counts[:, None]] = np.inf  # never pick padding
    return np.argpartition(keys, n - 1, axis=-1)[..., :n] if n < counts.max() else np.argsort(keys, axis=-1)


def _sampled(golden, score, quantile, idx, rng):
    """Golden reward and quantile of the pick, mean candidate and oracle, per (repeat, prompt).

    Of candidates tied for the highest ``score`` in a subset, one is picked at random.
    """
    shape = idx.shape[:2] + golden.shape[1:]
    g = np.take_along_axis(np.broadcast_to(golden, shape), idx, -1)
    s = np.take_along_axis(np.broadcast_to(score, shape), idx, -1)
    valid = ~np.isnan(g)
    s = np.where(valid, s, -np.inf)
    best = s == s.max(-1, keepdims=True)
    if np.any(best.sum(-1) > 1):
        best = np.where(best, rng.random(best.shape), -1.0)
    choice = np.argmax(best, -1)[..., None]
    pick = np.take_along_axis(g, choice, -1)[..., 0]
    q = (np.nan if quantile is None else np.take_along_axis(
        np.take_along_axis(np.broadcast_to(quantile, shape), idx, -1), choice, -1)[..., 0])
    return pick, np.nanmean(g, -1), np.nanmax(g, -1), q


def _exact(golden, score, counts, ns, quantile):
    """Expected golden reward and quantile of the pick, mean candidate and oracle, per N.

    Each is averaged over prompts, as an array of shape (1, n_ns). ``ns``
    None: each prompt's own candidates, all of them (the argmax pick).
    """
    tables = [golden] if quantile is None else [golden, quantile]
    picks = expected_picks(counts, ns, *sorted_by_score(score, counts, *tables),
                           best_first(golden, counts))
    picks = [pick[None] for pick in picks]
    mean = np.mean(row_means(golden, counts))
    if ns is not None:  # Best-of-1 is a random candidate: exactly the mean, no rounding
        picks[0][:, ns == 1] = picks[-1][:, ns == 1] = mean
    return picks[0], mean, picks[-1], (np.nan if quantile is None else picks[1])


def _summary(pick, mean, oracle, quantile, axis=None):
    """Means over prompts (and repeats): floats, or one value per N with ``axis=0``."""
    def average(value):
        value = np.mean(value, axis=axis)
        return float(value) if axis is None else value

    gain, oracle_gain = average(pick - mean), average(oracle - mean)
    # An oracle gain within rounding of 0 (golden reward constant within every prompt) is 0.
    defined = oracle_gain > 1e-12 * (np.max(np.abs(mean)) + np.max(np.abs(oracle)))
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(defined, gain / np.where(defined, oracle_gain, 1), np.nan)
    return Bunch(golden=average(pick), improvement=gain, oracle_improvement=oracle_gain,
                 oracle_fraction=float(fraction) if axis is None else fraction,
                 quantile=average(np.broadcast_to(quantile, np.shape(pick))))


def _report(y_true, y_score, groups, n, n_repeats, random_state, quantile=True):
    golden, score, counts = _check_candidates(*_padded_table(y_true, y_score, groups))
    quantile = within_prompt_quantile(golden, counts) if quantile else None
    if n is None or n_repeats is None:
        if n is not None:
            _check_n(counts, int(n))
        values = _exact(golden, score, counts, None if n is None else np.array([int(n)]),
                        quantile)
    else:
        rng = check_random_state(random_state)
        values = _sampled(golden, score, quantile, _subsets(counts, int(n), n_repeats, rng), rng)
    return _summary(*values)


@validate_params({**_ITEMS, **BEST_OF_N_CONSTRAINTS}, prefer_skip_nested_validation=True)
def best_of_n_score(y_true, y_score, groups, *, n=None, metric="improvement",
                    n_repeats=None, random_state=None):
    """Best-of-N quality of a reward on prompts with golden rewards.

    For each prompt, the candidate with the highest ``y_score`` is picked and
    judged by its golden reward ``y_true``. With ``n`` set, the pick is made
    among a uniformly random subset of ``n`` of the prompt's candidates (the
    paper's protocol), and the score is its expectation over all such
    subsets, computed exactly: sorted by ``y_score``, the ``i``-th best of
    ``K`` candidates is the pick with probability ``C(K-i, n-1) / C(K, n)``.
    Candidates tied for the highest ``y_score`` are picked uniformly at
    random (in expectation: their golden rewards are averaged). With
    ``n_repeats`` set, the expectation is estimated from that many random
    subsets per prompt instead (Monte Carlo).

    Parameters
    ----------
    y_true : array-like of shape (n_items,)
        Golden reward of every candidate.
    y_score : array-like of shape (n_items,)
        The learned reward of every candidate.
    groups : array-like of shape (n_items,)
        Prompt id of every candidate.
    n : int, default=None
        Candidates per subset; at most the candidates of the smallest
        prompt. ``None`` uses all candidates of each prompt.
    metric : {"improvement", "golden", "oracle_fraction", "quantile"}, \
            default="improvement"
        ``"improvement"``: golden reward of the pick minus the mean golden
        reward of the candidates (the paper's golden reward improvement).
        ``"golden"``: golden reward of the pick. ``"oracle_fraction"``: the
        improvement divided by the improvement of the golden reward's own
        pick (ratio of means over prompts; NaN if the golden reward is
        constant within every prompt). ``"quantile"``: the fraction of the
        prompt's candidates (all of them, not only the subset's) whose golden
        reward is at most the pick's, as Sun et al. report it (1: the pick is
        the prompt's best candidate).
    n_repeats : int, default=None
        ``None``: the exact expectation over random subsets. An int: the mean
        over that many random subsets per prompt (Monte Carlo; the variance
        across subsets is then visible by varying ``random_state``).
    random_state : int, RandomState instance or None, default=None
        Seeds the random subsets (``n_repeats`` set) and the choice among
        candidates tied in a subset; unused by the exact expectation.

    Returns
    -------
    score : float
        Averaged over prompts (and repeats); higher is better.

    Examples
    --------
    >>> from skreward.metrics import best_of_n_score
    >>> golden = [1.0, 3.0, 2.0, 0.0, 5.0, 1.0]
    >>> reward = [0.1, 0.9, 0.5, 0.2, 0.3, 0.1]
    >>> groups = [0, 0, 0, 1, 1, 1]
    >>> best_of_n_score(golden, reward, groups)  # picks 3.0 (mean 2) and 5.0 (mean 2)
    2.0
    >>> best_of_n_score(golden, reward, groups, metric="oracle_fraction")
    1.0
    >>> best_of_n_score(golden, reward, groups, n=2, metric="golden")  # exact expectation
    3.0
    >>> best_of_n_score(golden, reward, groups, metric="quantile")
    1.0
    """
    return _report(y_true, y_score, groups, n, n_repeats, random_state,
                   quantile=metric == "quantile")[metric]


@validate_params({**_ITEMS, **BEST_OF_N_CONSTRAINTS}, prefer_skip_nested_validation=True)
def best_of_n_report(y_true, y_score, groups, *, n=None, n_repeats=None, random_state=None):
    """All Best-of-N numbers at once: golden reward and quantile of the pick, improvement, oracle.

    Parameters are those of :func:`best_of_n_score`; by default the exact
    expectation over random subsets of ``n`` candidates.

    Returns
    -------
    report : Bunch
        ``golden``, ``improvement``, ``oracle_improvement`` (the golden
        reward's own pick over the mean candidate), ``oracle_fraction`` and
        ``quantile``.

    Examples
    --------
    >>> from skreward.metrics import best_of_n_report
    >>> report = best_of_n_report([1.0, 3.0, 2.0], [0.1, 0.2, 0.9], [0, 0, 0])
    >>> report.golden, report.improvement, report.oracle_improvement, report.oracle_fraction
    (2.0, 0.0, 1.0, 0.0)
    >>> round(report.quantile, 4)  # the pick, 2.0, is at least 2 of the 3 candidates
    0.6667
    """
    return _report(y_true, y_score, groups, n, n_repeats, random_state)


@validate_params({**_ITEMS, "ns": ["array-like"], **BEST_OF_N_CONSTRAINTS},
                 prefer_skip_nested_validation=True)
def best_of_n_curve(y_true, y_score, groups, *, ns=(2, 4, 8, 16), n_repeats=None,
                    random_state=None):
    """Best-of-N numbers for several N: the exact expectation over random subsets, or samples.

    The exact curve sorts each prompt's candidates once for all N.

    Parameters
    ----------
    y_true, y_score, groups : array-like of shape (n_items,)
        As in :func:`best_of_n_score`.
    ns : sequence of int, default=(2, 4, 8, 16)
        The values of N; each must be at most the smallest prompt's candidates.
    n_repeats : int, default=None
        ``None``: the exact expectation over random subsets. An int: the mean
        over that many random subsets per prompt and N (the paper draws 100).
    random_state : int, RandomState instance or None, default=None
        Seeds the random subsets; unused by the exact expectation.

    Returns
    -------
    curve : Bunch
        ``n`` and, per N, arrays ``golden``, ``improvement``,
        ``oracle_improvement``, ``oracle_fraction`` and ``quantile``.

    Examples
    --------
    >>> import numpy as np
    >>> from skreward.metrics import best_of_n_curve
    >>> rng = np.random.default_rng(0)
    >>> golden = rng.normal(size=400)
    >>> groups = np.repeat(np.arange(20), 20)
    >>> curve = best_of_n_curve(golden, golden, groups, ns=[2, 8, 20])
    >>> bool(np.all(np.diff(curve.improvement) > 0)), curve.oracle_fraction.tolist()
    (True, [1.0, 1.0, 1.0])
    """
    ns = check_ns(ns)
    golden, score, counts = _check_candidates(*_padded_table(y_true, y_score, groups))
    quantile = within_prompt_quantile(golden, counts)
    if n_repeats is None:
        _check_n(counts, int(ns[np.argmax(ns > counts.min())]), "ns")  # the first too large
        summary = _summary(*_exact(golden, score, counts, ns, quantile), axis=0)
        return Bunch(n=ns, **summary)
    rng = check_random_state(random_state)
    rows = [_summary(*_sampled(golden, score, quantile,
                               _subsets(counts, int(n), n_repeats, rng, "ns"), rng))
            for n in ns]
    return Bunch(n=ns, **{k: np.array([r[k] for r in rows]) for k in rows[0]})


def prompt_spearman_score(y_true, y_score, groups):
    """Mean Spearman rank correlation between reward and golden reward within prompts.

    Prompts whose golden or learned rewards are constant have no correlation
    and are left out of the mean.

    Parameters
    ----------
    y_true, y_score, groups : array-like of shape (n_items,)
        Golden reward, learned reward and prompt id of every candidate.

    Returns
    -------
    score : float
        Mean over prompts, in [-1, 1].

    Examples
    --------
    >>> from skreward.metrics import prompt_spearman_score
    >>> prompt_spearman_score([1, 2, 3, 1, 2, 3], [10, 20, 30, 3, 2, 1], [0, 0, 0, 1, 1, 1])
    0.0
    """
    golden, score, _ = _padded_table(y_true, y_score, groups)
    valid = ~np.isnan(golden)
    # Padding ranks last (inf), so it never shifts the ranks of real candidates.
    ranks = [np.where(valid, rankdata(np.where(valid, a, np.inf), axis=1), np.nan)
             for a in (golden, score)]
    centred = [r - np.nanmean(r, 1, keepdims=True) for r in ranks]
    cov = np.nansum(centred[0] * centred[1], 1)
    norm = np.sqrt(np.nansum(centred[0] ** 2, 1) * np.nansum(centred[1] ** 2, 1))
    defined = norm > 0
    if not defined.any():
        raise ValueError("Spearman correlation is undefined: rewards are constant within every prompt.")
    return float(np.mean(cov[defined] / norm[defined]))
