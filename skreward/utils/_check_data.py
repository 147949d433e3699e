"""Seeded data and comparison helpers shared by skreward's estimator checks."""

import re
import tempfile
from contextlib import contextmanager

import joblib
import numpy as np
from sklearn.base import clone

# Tolerances of the checks; documented where they are public, in estimator_checks.
REWARD_RTOL = 1e-5
FLOAT32_RTOL = 1e-3

N_PAIRS, N_FEATURES, N_ITEMS = 40, 4, 15


def both_widths(fitted, other):
    """Regular expression of a message that names both widths, in either order."""
    return rf"(?s)(\b{fitted}\b.*\b{other}\b|\b{other}\b.*\b{fitted}\b)"


def make_comparisons(n_pairs=N_PAIRS, n_features=N_FEATURES, *, seed=0):
    """Comparisons labelled by a linear reward with a little noise, and items to score.

    Returns ``X`` of shape ``(n_pairs, 2, n_features)``, ``y`` in {0, 1} (both
    labels present) and items of shape ``(N_ITEMS, n_features)``.
    """
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_pairs, 2, n_features))
    weights = np.linspace(1.0, -0.5, n_features)
    margin = (X[:, 0] - X[:, 1]) @ weights
    y = (margin + 0.3 * rng.normal(size=n_pairs) > 0).astype(np.int64)
    items = rng.normal(size=(N_ITEMS, n_features))
    return X, y, items


def seeded_clone(estimator):
    """A clone whose unset ``random_state`` parameters (nested ones too) are 0.

    Checks that compare two fits need them repeatable; seeds the user set are kept.
    """
    estimator = clone(estimator)
    unset = {key: 0 for key, value in estimator.get_params(deep=True).items()
             if key.split("__")[-1] == "random_state" and value is None}
    return estimator.set_params(**unset) if unset else estimator


def assert_same_rewards(actual, desired, *, rtol=REWARD_RTOL, what="rewards"):
    """Assert two reward vectors agree to ``rtol`` of the largest ``desired`` reward."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape, (
        f"{what}: shape {actual.shape} differs from {desired.shape}")
    scale = max(float(np.max(np.abs(desired), initial=0.0)), np.finfo(np.float64).tiny)
    np.testing.assert_allclose(actual, desired, rtol=0, atol=rtol * scale,
                               err_msg=f"{what} differ by more than {rtol:g} of their scale")


def same_value(a, b):
    """Whether two parameter values are equal: estimators by type and parameters, arrays
    element-wise, anything else by ``==`` (NaN equals NaN)."""
    if a is b:
        return True
    if hasattr(a, "get_params") and not isinstance(a, type):
        return (type(a) is type(b) and same_params(a.get_params(deep=False),
                                                   b.get_params(deep=False)))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    try:
        return bool(a == b)
    except Exception:  # objects whose == is not a truth value
        return False


def same_params(a, b):
    """Whether two ``get_params()`` dicts have the same keys and equal values."""
    return a.keys() == b.keys() and all(same_value(a[key], b[key]) for key in a)


def different_params(a, b):
    """Names of the parameters whose values differ between two ``get_params()`` dicts."""
    return sorted(set(a) ^ set(b)) + [k for k in a if k in b and not same_value(a[k], b[k])]


def public_attributes_added(before, estimator):
    """Attributes that fit added, neither private (``_x``) nor fitted state (``x_``)."""
    return sorted(key for key in vars(estimator)
                  if key not in before and not key.startswith("_") and not key.endswith("_"))


@contextmanager
def read_only_memmaps(*arrays):
    """The arrays as read-only memory maps (``joblib.load(mmap_mode="r")``)."""
    with tempfile.TemporaryDirectory(prefix="skreward_checks_") as folder:
        mapped = []
        for i, array in enumerate(arrays):
            path = f"{folder}/{i}.joblib"
            joblib.dump(np.asarray(array), path)
            mapped.append(joblib.load(path, mmap_mode="r"))
        yield mapped
        del mapped


@contextmanager
def raises(expected, match=None, *, what="the call"):
    """Assert that the block raises ``expected`` with a message that matches ``match``."""
    try:
        yield
    except expected as exc:
        if match is not None and not re.search(match, str(exc)):
            raise AssertionError(
                f"{what} raised {type(exc).__name__}({str(exc)!r}), whose message does not "
                f"match {match!r}") from exc
    else:
        names = [e.__name__ for e in (expected if isinstance(expected, tuple) else (expected,))]
        raise AssertionError(f"{what} did not raise {' or '.join(names)}")


def fit_rewards(estimator, X, y, items):
    """Fit ``estimator`` on comparisons and return the rewards of ``items``."""
    return np.asarray(estimator.fit(X, y).decision_function(items))
