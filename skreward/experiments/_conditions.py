"""Which cells a figure or finding compares: all at one condition but the factor it is about."""

import numpy as np

MAIN_PAIRINGS = ["same_prompt", "cross_prompt"]


def reference_condition(frame):
    """The condition each figure holds fixed: per factor, the value most cells share.

    For ``beta``, ``n_pairs`` and ``pairing``, the value of the most cells
    (of several tied, the middle one in sorted order). In the ``quick``
    preset: beta 1.0, 3,000 pairs, same-prompt pairing.
    """
    condition = {}
    for column in ("beta", "n_pairs", "pairing"):
        counts = frame[column].value_counts()
        tied = sorted(counts.index[counts == counts.max()].tolist())
        condition[column] = tied[(len(tied) - 1) // 2]
    return condition


def hold(frame, condition, *free):
    """The cells at ``condition`` in every factor but those named in ``free``."""
    keep = frame.index == frame.index
    for column, value in condition.items():
        if column not in free:
            keep &= (frame[column] == value).to_numpy()
    return frame[keep]


def n_pairs_sweep(frame):
    """The cells of the annotation-size sweep: the (pairing, beta) with the most sizes.

    Ties go to the reference pairing and beta.
    """
    ref = reference_condition(frame)
    sizes = frame.groupby(["pairing", "beta"]).n_pairs.nunique()
    (pairing, beta), _ = min(sizes.items(), key=lambda item: (
        -item[1], item[0][0] != ref["pairing"], item[0][1] != ref["beta"], item[0]))
    return frame[(frame.pairing == pairing) & (frame.beta == beta)]


def ablation(frame):
    """Cells of every pairing at the (beta, n_pairs) conditions where similar/diverse ran."""
    runs = frame[frame.pairing.isin(["similar", "diverse"])]
    conditions = set(zip(runs.beta, runs.n_pairs))
    return frame[[c in conditions for c in zip(frame.beta, frame.n_pairs)]]


def mean_sem(frame, by, value="improvement"):
    """Mean over the seeds of each condition in ``by``, its standard error, and the seed count."""
    stats = frame.groupby(by)[value].agg(["mean", "std", "count"])
    stats["sem"] = (stats["std"] / np.sqrt(stats["count"])).fillna(0.0)
    return stats.rename(columns={"count": "seeds"})
