"""Best-of-N: pick the highest-reward candidate of each prompt, judge it by the golden reward.

Everything is vectorised over prompts: candidates are laid out in a padded
``(n_prompts, max_candidates)`` table, random candidate subsets are drawn for
all prompts and repeats at once.
"""

import numbers

import numpy as np
from scipy.stats import rankdata
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._grouping import padded_table
from .._validation import check_groups, check_rewards

METRICS = ("improvement", "golden", "oracle_fraction")

#: Constraints of the Best-of-N settings: the one definition used by the functions below
#: (each checks those of its own arguments) and by :class:`BestOfNScorer`.
BEST_OF_N_CONSTRAINTS = {
    "n": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "metric": [StrOptions(set(METRICS))],
    "n_repeats": [Interval(numbers.Integral, 1, None, closed="left")],
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


def _subsets(counts, n, n_repeats, rng, input_name="n"):
    """Indices (n_repeats, n_prompts, n) of random n-candidate subsets of each prompt."""
    if n > counts.min():
        where = "" if input_name == "n" else f"{input_name}: "
        raise ValueError(
            f"{where}n={n} is larger than the candidates of some prompts (the smallest "
            f"prompt has {counts.min()}); use n <= {counts.min()} or drop those prompts."
        )
    keys = rng.random((n_repeats, len(counts), counts.max()))
    keys[:, np.arange(counts.max()) >= counts[:, None]] = np.inf  # never pick padding
    return np.argpartition(keys, n - 1, axis=-1)[..., :n] if n < counts.max() else np.argsort(keys, axis=-1)


def _best_of_n(golden, score, idx):
    """Golden reward of the pick, mean candidate and oracle, per (repeat, prompt)."""
    g = np.take_along_axis(np.broadcast_to(golden, idx.shape[:2] + golden.shape[1:]), idx, -1)
    s = np.take_along_axis(np.broadcast_to(score, g.shape[:2] + score.shape[1:]), idx, -1)
    valid = ~np.isnan(g)
    pick = np.take_along_axis(g, np.nanargmax(np.where(valid, s, -np.inf), -1)[..., None], -1)[..., 0]
    mean = np.nanmean(g, -1)
    return pick, mean, np.nanmax(g, -1)


def _summary(pick, mean, oracle):
    oracle_gain = np.mean(oracle - mean)
    return Bunch(
        golden=float(np.mean(pick)),
        improvement=float(np.mean(pick - mean)),
        oracle_improvement=float(oracle_gain),
        oracle_fraction=float(np.mean(pick - mean) / oracle_gain) if oracle_gain > 0 else np.nan,
    )


@validate_params({**_ITEMS, **BEST_OF_N_CONSTRAINTS}, prefer_skip_nested_validation=True)
def best_of_n_score(y_true, y_score, groups, *, n=None, metric="improvement",
                    n_repeats=20, random_state=None):
    """Best-of-N quality of a reward on prompts with golden rewards.

    For each prompt, the candidate with the highest ``y_score`` is picked and
    judged by its golden reward ``y_true``. With ``n`` set, each prompt draws
    ``n_repeats`` random subsets of ``n`` candidates (the paper's protocol).

    Parameters
    ----------
    y_true : array-like of shape (n_items,)
        Golden reward of every candidate.
    y_score : array-like of shape (n_items,)
        The learned reward of every candidate.
    groups : array-like of shape (n_items,)
        Prompt id of every candidate.
    n : int, default=None
        Candidates per draw. ``None`` uses all candidates of each prompt once.
    metric : {"improvement", "golden", "oracle_fraction"}, default="improvement"
        ``"improvement"``: golden reward of the pick minus the mean golden
        reward of the candidates (the paper's golden reward improvement).
        ``"golden"``: golden reward of the pick. ``"oracle_fraction"``: the
        improvement divided by the improvement of the golden reward's own
        pick (ratio of means over prompts; NaN if the golden reward is
        constant within every prompt).
    n_repeats : int, default=20
        Random subsets per prompt when ``n`` is set.
    random_state : int, RandomState instance or None, default=None
        Seeds the candidate subsets.

    Returns
    -------
    score : float
        Averaged over prompts and repeats; higher is better.

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
    """
    return best_of_n_report(y_true, y_score, groups, n=n, n_repeats=n_repeats,
                            random_state=random_state)[metric]


@validate_params({**_ITEMS, **BEST_OF_N_CONSTRAINTS}, prefer_skip_nested_validation=True)
def best_of_n_report(y_true, y_score, groups, *, n=None, n_repeats=20, random_state=None):
    """All Best-of-N numbers at once: golden reward of the pick, improvement, oracle.

    Parameters are those of :func:`best_of_n_score`.

    Returns
    -------
    report : Bunch
        ``golden``, ``improvement``, ``oracle_improvement`` (the golden
        reward's own pick over the mean candidate) and ``oracle_fraction``.

    Examples
    --------
    >>> from skreward.metrics import best_of_n_report
    >>> report = best_of_n_report([1.0, 3.0, 2.0], [0.1, 0.2, 0.9], [0, 0, 0])
    >>> report.golden, report.improvement, report.oracle_improvement, report.oracle_fraction
    (2.0, 0.0, 1.0, 0.0)
    """
    golden, score, counts = _check_candidates(*_padded_table(y_true, y_score, groups))
    if n is None:
        idx = np.broadcast_to(np.arange(golden.shape[1]), (1,) + golden.shape)
    else:
        idx = _subsets(counts, int(n), n_repeats, check_random_state(random_state))
    return _summary(*_best_of_n(golden, score, idx))


@validate_params({**_ITEMS, "ns": ["array-like"], **BEST_OF_N_CONSTRAINTS},
                 prefer_skip_nested_validation=True)
def best_of_n_curve(y_true, y_score, groups, *, ns=(2, 4, 8, 16), n_repeats=100,
                    random_state=None):
    """Best-of-N numbers for several N, each averaged over random candidate subsets.

    Parameters
    ----------
    y_true, y_score, groups : array-like of shape (n_items,)
        As in :func:`best_of_n_score`.
    ns : sequence of int, default=(2, 4, 8, 16)
        The values of N; each must be at most the smallest prompt's candidates.
    n_repeats : int, default=100
        Random subsets per prompt and N (the paper uses 100).
    random_state : int, RandomState instance or None, default=None
        Seeds the candidate subsets.

    Returns
    -------
    curve : Bunch
        ``n`` and, per N, arrays ``golden``, ``improvement``,
        ``oracle_improvement`` and ``oracle_fraction``.

    Examples
    --------
    >>> import numpy as np
    >>> from skreward.metrics import best_of_n_curve
    >>> rng = np.random.default_rng(0)
    >>> golden = rng.normal(size=400)
    >>> groups = np.repeat(np.arange(20), 20)
    >>> curve = best_of_n_curve(golden, golden, groups, ns=[2, 8, 20], random_state=0)
    >>> bool(np.all(np.diff(curve.improvement) > 0)), curve.oracle_fraction.tolist()
    (True, [1.0, 1.0, 1.0])
    """
    ns = check_ns(ns)
    golden, score, counts = _check_candidates(*_padded_table(y_true, y_score, groups))
    rng = check_random_state(random_state)
    rows = [_summary(*_best_of_n(golden, score, _subsets(counts, int(n), n_repeats, rng, "ns")))
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
