"""Validation of comparisons, items, labels and prompt groups.

Comparisons are 3-D, so scikit-learn's ``validate_data`` (which reads the
number of features from ``X.shape[1]``) cannot record ``n_features_in_`` for
them; these helpers wrap ``check_array`` and keep the same conventions.
"""

import numpy as np
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping
from sklearn.utils.validation import _check_sample_weight, _num_samples

# float32 input stays float32 (no copy of large embeddings); anything else becomes float64.
FLOATS = [np.float64, np.float32]


def check_comparisons(X, y=None, *, input_name="X", soft=False):
    """Return comparisons as a float array ``(n_pairs, 2, n_features)`` and labels in {0, 1}.

    ``y=None`` means the first item of every comparison is the preferred one.
    Labels in {-1, +1} or booleans are mapped to {0, 1}; ``soft=True`` also
    accepts soft labels in [0, 1] (see :func:`check_comparison_labels`).
    """
    _refuse_none(X, input_name, "comparisons, an array-like of shape (n_pairs, 2, n_features)")
    X = _check_array(X, allow_nd=True, ensure_2d=False, dtype=FLOATS,
                     ensure_all_finite=True, ensure_min_samples=0, input_name=input_name)
    if X.ndim != 3 or X.shape[1] != 2:
        raise ValueError(
            f"{input_name} must be comparisons of shape (n_pairs, 2, n_features); "
            f"got an array of shape {X.shape}. Stack the two items of each "
            "comparison on axis 1, e.g. np.stack([X_first, X_second], axis=1)."
        )
    if X.shape[0] == 0:
        raise ValueError(f"{input_name} must contain at least one comparison; got 0.")
    if X.shape[2] == 0:
        raise ValueError(f"{input_name} must have at least one feature; got shape {X.shape}.")
    return X, check_comparison_labels(y, len(X), soft=soft)


def check_comparison_labels(y, n_pairs, *, soft=False):
    """Return labels as an int array in {0, 1} (1: the first item is preferred).

    ``soft=True`` also accepts soft labels, probabilities in [0, 1] that the
    first item is preferred (e.g. annotator agreement), and returns floats.
    """
    if y is None:
        return np.ones(n_pairs, dtype=np.float64 if soft else np.int64)
    y = column_or_1d(y, warn=True)
    if len(y) != n_pairs:
        raise ValueError(
            f"y must have one label per comparison: got {len(y)} labels for {n_pairs} comparisons."
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinity at comparison "
                         f"{int(np.flatnonzero(~np.isfinite(y))[0])}; labels must be in "
                         "{0, 1} or {-1, 1}" + (", or soft labels in [0, 1]." if soft else "."))
    values = set(np.unique(y).tolist())
    if values <= {0, 1}:
        return y.astype(np.float64 if soft else np.int64)
    if values <= {-1, 1}:
        return (y == 1).astype(np.float64 if soft else np.int64)
    if soft and y.dtype.kind in "fiub":
        outside = (y < 0) | (y > 1)
        if not outside.any():
            return y.astype(np.float64)
        first = int(np.flatnonzero(outside)[0])
        raise ValueError(
            "y must hold labels in {0, 1} or {-1, 1}, or soft labels in [0, 1] (the probability "
            f"that the first item is preferred); comparison {first} has {float(y[first])!r}.")
    raise ValueError(
        "y must hold labels in {0, 1} or {-1, 1} (1: the first item is preferred); "
        f"got values {sorted(values)[:5]}."
    )


def check_sample_weight(sample_weight, n_rows, *, input_name="sample_weight"):
    """Return one finite, non-negative weight per row, not all zero, as float64."""
    try:
        return _check_sample_weight(sample_weight, np.empty((n_rows, 0)), dtype=np.float64,
                                    ensure_non_negative=True)
    except (TypeError, ValueError) as error:
        if "sample_weight" in str(error) or "Sample weights" in str(error):
            raise
        raise ValueError(f"{input_name} must be one non-negative number per row: {error}") from error


def check_margin(margin, n_pairs, *, input_name="margin"):
    """Return one finite, non-negative margin per comparison as float64.

    A margin asks the preferred item's reward to exceed the other's by that
    much (the loss is taken at ``r(preferred) - r(other) - margin``). It is
    never negative: which item is preferred is the label's job, and a
    negative margin would reward ranking the preferred item below the other.
    """
    values = _one_dimensional(margin, input_name, "one margin per comparison")
    if len(values) != n_pairs:
        raise ValueError(f"{input_name} must have one value per comparison: got {len(values)} "
                         f"for {n_pairs} comparisons.")
    try:
        values = values.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{input_name} must hold numbers; got {values[:3]!r} ({err}).") from err
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{input_name} must be finite and non-negative; comparison (row) {first} has "
            f"{float(values[first])!r}. The label says which item is preferred (swap a pair, or "
            "label it 0, when the second is better); the margin says by how much.")
    return values


def _check_array(X, **kwargs):
    """``check_array`` without numpy's RuntimeWarning where +inf and -inf meet in its finite check.

    The check sums the array: ``inf + -inf`` warns "invalid value" before the
    ValueError that names the input.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        return check_array(X, **kwargs)


def _refuse_none(X, input_name, expected):
    """``None`` would become a NaN scalar in ``check_array``, reported as "contains NaN"."""
    if X is None:
        raise ValueError(f"{input_name} is None; expected {expected}.")


def check_width(X, n_features, estimator, input_name="X"):
    """Raise scikit-learn's message when ``X``'s last axis is not the fitted ``n_features``."""
    if n_features is not None and X.shape[-1] != n_features:
        raise ValueError(
            f"{input_name} has {X.shape[-1]} features, but {type(estimator).__name__} is "
            f"expecting {n_features} features as input."
        )


def is_sample_aligned(value, n_rows):
    """Whether a metadata value holds one entry per row (scikit-learn's searches slice those)."""
    return (hasattr(value, "__len__") and not isinstance(value, (str, dict))
            and _num_samples(value) == n_rows)


def fit_router(meta_estimator, *, consumes=False, estimators=None):
    """Routing of ``fit`` metadata to ``meta_estimator.estimator``'s ``fit``.

    ``consumes``: the meta-estimator also requests metadata of its own.
    ``estimators``: ``{name: estimator}`` to route to instead (several inner
    estimators, e.g. a list of them); ``process_routing`` then returns the
    metadata of each under its name.
    """
    router = MetadataRouter(owner=type(meta_estimator).__name__)
    if consumes:
        router.add_self_request(meta_estimator)
    if estimators is None:
        estimators = {"estimator": meta_estimator.estimator}
    for name, estimator in estimators.items():
        router.add(**{name: estimator},
                   method_mapping=MethodMapping().add(caller="fit", callee="fit"))
    return router


def is_text_table(X):
    """Whether ``X`` is a table of texts (a DataFrame or a dict of columns), not an array."""
    if isinstance(X, dict):
        return True
    import pandas as pd

    return isinstance(X, pd.DataFrame)


def text_comparison_items(X):
    """Items of a table of triples, chosen answers then rejected ones, and the number of pairs.

    The items table has a ``response`` column (and ``prompt``, where ``X``
    has one), the ``2 * n_pairs`` rows that a text pipeline's
    ``decision_function`` scores: row ``i`` is pair ``i``'s chosen answer,
    row ``n_pairs + i`` its rejected one.
    """
    kind, columns = check_texts(X, needs_prompt=False)
    if kind != "triples":
        raise ValueError("X must be comparisons: a table with columns 'prompt', 'chosen', "
                         "'rejected' (or an array (n_pairs, 2, n_features)); got items "
                         "with a 'response' column.")
    items = {"response": columns["chosen"] + columns["rejected"]}
    if "prompt" in (X.columns if hasattr(X, "columns") else X):
        prompts = list(X["prompt"])
        items = {"prompt": prompts + prompts, **items}
    return items, len(columns["chosen"])


def check_items(X, *, n_features=None, estimator=None, input_name="X"):
    """Return items as a float array ``(n_items, n_features)``; ``n_features``: the fitted width."""
    _refuse_none(X, input_name, "items, an array-like of shape (n_items, n_features)")
    X = _check_array(X, allow_nd=True, dtype=FLOATS, ensure_all_finite=True,
                     input_name=input_name)
    if X.ndim != 2:
        raise ValueError(
            f"{input_name} must be items of shape (n_items, n_features); got an array of "
            f"shape {X.shape}. Score comparisons with `score`, or pass X[:, 0] and X[:, 1]."
        )
    check_width(X, n_features, estimator, input_name)
    return X


def check_groups(groups, n_items, *, input_name="groups"):
    """Return prompt ids as a 1-D array of length ``n_items``.

    Missing ids (None, NaN, pandas.NA) are refused, as are ids of kinds that
    do not sort together (e.g. None or strings mixed with numbers): they
    would be pooled into one prompt, or fail deep inside ``np.unique``.
    """
    if groups is None:
        raise ValueError(
            f"{input_name} is required: pass the prompt id of every item "
            "(with metadata routing: enable it and request groups)."
        )
    groups = _one_dimensional(groups, input_name, "one prompt id per item")
    if len(groups) != n_items:
        raise ValueError(
            f"{input_name} must have one prompt id per item: got {len(groups)} for {n_items} items."
        )
    missing = _missing(groups)
    if missing.any():
        raise ValueError(
            f"{input_name} has a missing prompt id (None or NaN) at item "
            f"{int(np.flatnonzero(missing)[0])}; every item needs a prompt id (drop those "
            "items or fill their ids)."
        )
    if groups.dtype == object:
        try:
            np.unique(groups)
        except TypeError:
            kinds = sorted({type(g).__name__ for g in groups})
            raise TypeError(
                f"{input_name} mixes prompt ids of types {kinds} that do not sort together; "
                "use ids of one kind (all numbers or all strings)."
            ) from None
    return groups


def _one_dimensional(values, input_name, expected):
    """``column_or_1d`` whose error names ``input_name`` (scikit-learn's says ``y``)."""
    shape = np.shape(values)
    if len(shape) != 1 and not (len(shape) == 2 and shape[1] == 1):
        raise ValueError(f"{input_name} must be 1-D ({expected}); got an array of shape {shape}.")
    return column_or_1d(values, input_name=input_name)


def check_rewards(values, n_items, *, input_name):
    """Return a finite 1-D float array of length ``n_items``."""
    values = _one_dimensional(_check_array(values, ensure_2d=False, dtype=np.float64,
                                           ensure_all_finite=True, ensure_min_samples=0,
                                           input_name=input_name),
                              input_name, "one value per item")
    if len(values) != n_items:
        raise ValueError(
            f"{input_name} must have one value per item: got {len(values)} for {n_items} items."
        )
    return values


def check_feedback_labels(y, n_items=None, *, input_name="y"):
    """Return thumbs-up / thumbs-down labels of items as an int array in {0, 1} (1: good).

    Booleans (TRL's unpaired ``label``) and the numbers 0 and 1 are accepted;
    anything else (a string, None or NaN, 2, -1) is a ValueError naming the
    row. ``n_items``: the number of labels expected (None: any).
    """
    if y is None:
        raise ValueError(f"{input_name} is required: one label per item, True (or 1) for a "
                         "thumbs up and False (or 0) for a thumbs down.")
    if not hasattr(y, "dtype"):  # a list: keep every value as given (no casting to strings)
        y = np.asarray(y, dtype=object)
    _one_dimensional(y, input_name, "one label per item")  # its error names y's shape
    y = column_or_1d(y, warn=True, input_name=input_name)  # a column warns, as scikit-learn's
    if n_items is not None and len(y) != n_items:
        raise ValueError(f"{input_name} must have one label per item: got {len(y)} labels for "
                         f"{n_items} items.")
    if y.dtype.kind == "b":
        return y.astype(np.int64)
    if y.dtype.kind in "iuf":
        bad = ~np.isin(y, [0, 1])
    else:  # objects: booleans or numbers 0 and 1, each checked
        bad = np.array([isinstance(v, (str, bytes)) or _is_missing(v) or v not in (0, 1)
                        for v in y], dtype=bool)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = y[row].item() if isinstance(y[row], np.generic) else y[row]
        raise ValueError(
            f"{input_name} has a non-boolean label {value!r} at row {row}; every label must be "
            "True or 1 (thumbs up) or False or 0 (thumbs down).")
    return y.astype(np.int64)


def check_texts(X, *, needs_prompt=True, allow_empty=False):
    """Return ``("items" | "triples", {column: list of str})`` of a table of texts.

    The input of the text front ends: a DataFrame or dict of lists with
    columns ``prompt`` and ``response`` (items) or ``prompt``, ``chosen`` and
    ``rejected`` (triples); other columns are ignored, but a table with both a
    ``response`` and a ``chosen`` or ``rejected`` column is ambiguous and
    refused. Every text must be a
    non-empty string; anything else is a ValueError naming the column and
    row. ``needs_prompt=False`` neither requires nor checks the prompt column.
    ``allow_empty=True`` accepts empty or whitespace-only responses (the
    ``response``, ``chosen`` and ``rejected`` columns; prompts must still hold
    text), the ``allow_empty`` option of the text front ends.
    """
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        get = lambda c: X[c].tolist()  # noqa: E731
    elif isinstance(X, dict):
        names = [str(c) for c in X]
        get = lambda c: list(X[c])  # noqa: E731
    else:
        raise ValueError(
            "X must be a pandas DataFrame or a dict of lists with columns "
            "('prompt', 'response') for items or ('prompt', 'chosen', 'rejected') for "
            f"comparisons; got {type(X).__name__}."
        )
    if "response" in names and ("chosen" in names or "rejected" in names):
        raise ValueError(
            "X has both a 'response' column (items) and 'chosen'/'rejected' columns "
            "(comparisons), so which it holds is ambiguous; pass only the columns of one: "
            "('prompt', 'response') or ('prompt', 'chosen', 'rejected')."
        )
    if "chosen" in names and "rejected" in names:
        kind, required = "triples", ["prompt", "chosen", "rejected"]
    elif "response" in names:
        kind, required = "items", ["prompt", "response"]
    else:
        raise ValueError(
            "X must have columns ('prompt', 'response') for items or ('prompt', 'chosen', "
            f"'rejected') for comparisons; got columns {names[:10]}."
        )
    if not needs_prompt:  # an unused prompt column is neither required nor checked
        required = required[1:]
    missing = [c for c in required if c not in names]
    if missing:
        raise ValueError(
            f"X is missing column(s) {missing} for {kind} (columns {required}"
            f"{'' if needs_prompt else '; the prompt is not used'}); "
            f"got columns {names[:10]}."
        )
    columns = {c: get(c) for c in required}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"X: columns {required} must have the same length; got "
                         f"{[len(columns[c]) for c in required]}.")
    if lengths == {0}:
        raise ValueError("X must hold at least one row; got 0.")
    for name, values in columns.items():
        for i, value in enumerate(values):
            if not isinstance(value, str):
                what = "a missing value (None or NaN)" if _is_missing(value) else \
                    f"a non-string value ({type(value).__name__})"
                raise ValueError(f"X[{name!r}] has {what} at row {i}; every {name} must "
                                 "be a non-empty string (drop or fill those rows).")
            if not value.strip() and not (allow_empty and name != "prompt"):
                hint = "" if name == "prompt" else \
                    ", or pass allow_empty=True to embed empty responses as they are"
                raise ValueError(f"X[{name!r}] has an empty string at row {i} (empty or "
                                 f"whitespace only); every {name} must be a non-empty string "
                                 f"(drop or fill those rows{hint}).")
    return kind, columns


def _missing(values):
    """Boolean mask of None, NaN, pandas.NA and NaT in a 1-D array."""
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


def _is_missing(value):
    """None, NaN, pandas.NA or NaT."""
    import pandas as pd

    return np.ndim(value) == 0 and bool(pd.isna(value))
