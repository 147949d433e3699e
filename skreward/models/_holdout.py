"""The neural reward models' seeded validation hold-out, which never splits a group."""

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit
from sklearn.utils import check_consistent_length, column_or_1d


def holdout_split(n_rows, fraction, seed, groups=None):
    """Row indices ``(train, valid)``: a seeded ``fraction`` held out, by groups if given.

    With ``groups`` (one per row) the hold-out is a ``fraction`` of the
    groups, all rows of a group on one side. ``OrderConsistentClassifier``
    gives the two rows of every comparison one group: split apart, the
    held-out row's partner is trained on with the opposite label, and the
    validation loss then rewards *not* learning what tells them apart, so
    early stopping restores an under-trained epoch
    (``benchmarks/bench_clf_noise.py`` measures it).
    """
    if groups is None:
        units, splitter = n_rows, ShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    else:
        groups = column_or_1d(groups)
        check_consistent_length(np.empty(n_rows), groups)
        units = len(np.unique(groups))
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    n_valid = int(np.ceil(fraction * units))
    if n_valid >= units:
        what = "training rows" if groups is None else "groups of training rows"
        raise ValueError(
            f"validation_fraction={fraction} holds out {n_valid} of the {units} {what}, "
            "leaving none to train on; fit on more rows, or pass validation_fraction=None to "
            "train on all of them (without early stopping)."
        )
    return next(splitter.split(np.zeros((n_rows, 1)), groups=groups))

