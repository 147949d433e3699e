"""Items grouped by prompt as rows of a padded ``(n_groups, max_size)`` table.

The one layout behind the vectorised per-prompt code: pair drawing (a row
holds the items a prompt may pair) and Best-of-N (a row holds a prompt's
candidates). Rows follow the sorted group ids; within a row, items keep the
order in which they are given.
"""

import numpy as np


def group_slots(groups):
    """Row and column of every item in the padded table, and the size of every group.

    Parameters
    ----------
    groups : ndarray of shape (n_items,)
        Group (prompt) id of every item; at least one item.

    Returns
    -------
    row : ndarray of shape (n_items,)
        Index of the item's group among the sorted distinct ids.
    column : ndarray of shape (n_items,)
        Position of the item among the items of its group, in input order.
    sizes : ndarray of shape (n_groups,)
        Items of every group.

    Examples
    --------
    >>> from skreward._grouping import group_slots
    >>> row, column, sizes = group_slots(["b", "a", "b", "b"])
    >>> row.tolist(), column.tolist(), sizes.tolist()
    ([1, 0, 1, 1], [0, 0, 1, 2], [1, 3])
    """
    groups = np.asarray(groups)
    starts, sizes = _sorted_groups(groups)
    if sizes is not None:  # already sorted: no sort
        row = np.repeat(np.arange(len(sizes)), sizes)
        return row, np.arange(len(groups)) - np.repeat(starts, sizes), sizes
    _, row, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    row = row.ravel()
    by_group = np.argsort(row, kind="stable")
    column = np.empty(len(row), dtype=np.int64)
    column[by_group] = np.arange(len(row)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return row, column, sizes


def _sorted_groups(groups):
    """First index and size of every group if ``groups`` is sorted (the usual layout), else None."""
    if not (groups.ndim == 1 and len(groups) and groups.dtype.kind in "biuUS"
            and np.all(groups[1:] >= groups[:-1])):
        return None, None
    starts = np.concatenate([[0], np.flatnonzero(groups[1:] != groups[:-1]) + 1])
    return starts, np.diff(np.concatenate([starts, [len(groups)]]))


def padded_table(groups, *values, fill):
    """Lay per-item values out as rows of a padded ``(n_groups, max_size)`` table.

    Parameters
    ----------
    groups : ndarray of shape (n_items,)
        Group (prompt) id of every item; at least one item.
    *values : ndarray of shape (n_items,)
        One table is made of each.
    fill : scalar
        Value of the padding cells (of the dtype of ``values``: ``np.nan``
        for floats, e.g. ``0`` for item indices).

    Returns
    -------
    *tables : ndarray of shape (n_groups, max_size)
        One per array of ``values``, of its dtype.
    sizes : ndarray of shape (n_groups,)
        Items of every group: row ``g`` holds its values in columns
        ``[0, sizes[g])``.

    Examples
    --------
    >>> import numpy as np
    >>> from skreward._grouping import padded_table
    >>> table, sizes = padded_table(np.array([7, 3, 7]), np.array([1.0, 2.0, 3.0]), fill=np.nan)
    >>> table.tolist(), sizes.tolist()
    ([[2.0, nan], [1.0, 3.0]], [1, 2])
    """
    _, sizes = _sorted_groups(np.asarray(groups))
    if sizes is not None and sizes.min() == sizes.max():  # equal groups in order: reshape
        return (*(np.array(value).reshape(len(sizes), -1) for value in values), sizes)
    row, column, sizes = group_slots(groups)
    tables = []
    for value in values:
        value = np.asarray(value)
        table = np.full((len(sizes), sizes.max()), fill, dtype=value.dtype)
        table[row, column] = value
        tables.append(table)
    return (*tables, sizes)
