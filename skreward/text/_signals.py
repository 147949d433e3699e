"""The training signals of a preference table: soft labels, weights and margins.

:func:`preference_targets` reads them off the table that
:func:`~skreward.text.normalize_preferences` returns, as the ``y`` and ``fit``
arguments of a reward model; ``pair_signals`` and ``item_labels`` check the
columns while the table is built, naming the field and row of a bad value.
"""

import numbers

import numpy as np

from .._validation import check_feedback_labels, check_margin


def preference_targets(data):
    """The training signals of a preference table, as ``fit`` arguments of a reward model.

    Parameters
    ----------
    data : DataFrame, dict of lists or datasets.Dataset
        Preferences in any format :func:`~skreward.text.normalize_preferences` reads.

    Returns
    -------
    y : ndarray or None
        Comparisons: the ``label`` column (soft labels in [0, 1]), or
        ``None`` (the chosen answer is always preferred). Items: the boolean
        ``label`` column, or ``None``.
    fit_params : dict
        ``{"sample_weight": weight, "margin": margin}``, each only when its
        column is present. Pass them to the pipeline's ``fit`` with metadata
        routing enabled and the reward model's requests set, e.g.
        ``BTRegressor().set_fit_request(sample_weight=True, margin=True)``.

    Examples
    --------
    >>> from skreward.text import preference_targets
    >>> y, params = preference_targets({"prompt": ["Hi"], "chosen": ["Hello!"],
    ...                                 "rejected": ["Go away."], "label": [0.8],
    ...                                 "margin": [2.0]})
    >>> y.tolist(), {k: v.tolist() for k, v in params.items()}
    ([0.8], {'margin': [2.0]})
    """
    from ._formats import normalize_preferences

    table = data if _is_normalized(data) else normalize_preferences(data, allow_empty=True)
    y = table["label"].to_numpy() if "label" in table else None
    params = {name: table[column].to_numpy(dtype=np.float64)
              for name, column in (("sample_weight", "weight"), ("margin", "margin"))
              if column in table}
    return y, params


def _is_normalized(data):
    import pandas as pd

    return isinstance(data, pd.DataFrame) and "kind" in data.attrs


def _numbers(values, field):
    """A float array of a column of numbers, or a ValueError naming the field and row."""
    for i, value in enumerate(values):
        if not isinstance(value, (numbers.Real, np.bool_)) or isinstance(value, str):
            raise ValueError(f"{field!r} at row {i} must be a number; got {value!r}.")
    return np.asarray(values, dtype=np.float64)


def pair_signals(columns, n):
    signals = {}
    if "label" in columns:
        labels = _numbers(columns["label"], "label")
        bad = ~((labels >= 0) & (labels <= 1))  # NaN too
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(f"'label' at row {first} is {float(labels[first])!r}; a soft label "
                             "is the probability in [0, 1] that the chosen answer is preferred "
                             "(e.g. 0.8: four of five annotators chose it).")
        signals["label"] = labels
    if "weight" in columns:
        weight = _numbers(columns["weight"], "weight")
        bad = ~np.isfinite(weight) | (weight < 0)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(f"'weight' at row {first} is {float(weight[first])!r}; weights "
                             "must be finite and non-negative.")
        signals["weight"] = weight
    if "margin" in columns:
        signals["margin"] = check_margin(_numbers(columns["margin"], "margin"), n,
                                         input_name="'margin'")
    return signals


def item_labels(columns):
    if "label" not in columns:
        return {}
    labels = np.empty(len(columns["label"]), dtype=object)
    labels[:] = columns["label"]
    return {"label": check_feedback_labels(labels, input_name="'label'").astype(bool)}
