"""Loader of embedding files in the layout of Sun, Shen & Ton's released embeddings.

Their embeddings are arrays ``(n_prompts, n_responses, n_features)`` with the
golden rewards ``(n_prompts, n_responses)`` (or ``(..., 1)``), as ``.npy`` or
``.npz`` files, sometimes stored responses first. The loader turns them into
the items, golden rewards and prompt groups that the rest of skreward takes,
without copying the embeddings: a ``.npy`` file (or an uncompressed ``.npz``
member) is memory-mapped, and the items are a reshaped view of it.
"""

import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

from .._validation import check_rewards

LAYOUTS = ("prompts_first", "responses_first")
_DEFAULT_KEYS = {"embeddings": "embeddings", "rewards": "rewards"}


@validate_params(
    {"embeddings": [str, Path, "array-like"], "rewards": [str, Path, "array-like"],
     "test_embeddings": [str, Path, "array-like", None],
     "test_rewards": [str, Path, "array-like", None],
     "layout": [StrOptions(set(LAYOUTS))],
     "rewards_layout": [StrOptions({"auto", *LAYOUTS})],
     "embeddings_key": [str, None], "rewards_key": [str, None],
     "mmap_mode": [StrOptions({"r", "c"}), None]},
    prefer_skip_nested_validation=True,
)
def load_embedding_arrays(embeddings, rewards, *, test_embeddings=None, test_rewards=None,
                          layout="prompts_first", rewards_layout="auto", embeddings_key=None,
                          rewards_key=None, mmap_mode="r"):
    """Load embeddings ``(n_prompts, n_responses, d)`` and their golden rewards as items.

    The layout of the embeddings released with Sun, Shen & Ton (2025) and
    its follow-up work: one array of embeddings per split, a row of
    ``n_responses`` responses per prompt (10 for training, 500 for testing
    in the paper), and an array of their golden rewards.

    Parameters
    ----------
    embeddings : str, path or array-like of shape (n_prompts, n_responses, n_features)
        A ``.npy`` or ``.npz`` file, or an array.
    rewards : str, path or array-like of shape (n_prompts, n_responses) or \
(n_prompts, n_responses, 1)
        The golden reward of every response, in the same or the other axis
        order (see ``rewards_layout``).
    test_embeddings, test_rewards : str, path or array-like, default=None
        A held-out split in the same layout (e.g. the paper's 500 responses
        per test prompt), returned as ``X_test``, ``golden_test``,
        ``groups_test``. Both or neither.
    layout : {"prompts_first", "responses_first"}, default="prompts_first"
        Axis order of the embeddings: ``(n_prompts, n_responses, d)`` or
        ``(n_responses, n_prompts, d)``. It cannot be told from the shape (an
        array ``(10, 5000, d)`` is valid either way), so it is a parameter;
        the paper's scripts store theirs responses first.
    rewards_layout : {"auto", "prompts_first", "responses_first"}, default="auto"
        Axis order of the rewards. ``"auto"``: the order in which the
        rewards' shape matches the embeddings' first two axes; where both
        orders match (as many prompts as responses) it is ambiguous and
        refused, so pass it.
    embeddings_key, rewards_key : str, default=None
        The array to read from an ``.npz`` file. ``None``: its only array,
        else the array named ``"embeddings"`` (``"rewards"``). The same file
        may hold both.
    mmap_mode : {"r", "c"} or None, default="r"
        Memory-map ``.npy`` files and uncompressed ``.npz`` members (as
        :func:`numpy.load`), so files larger than memory are read as needed
        and ``X`` is a view of the file; a compressed ``.npz`` member is read
        into memory. ``None`` reads everything into memory.

    Returns
    -------
    data : Bunch
        ``X`` ``(n_prompts * n_responses, n_features)`` (the file's dtype,
        items in the file's order), ``golden`` (float64), ``groups`` (prompt
        index from 0) and ``response`` (the response's index within its
        prompt) of every item; with a test split, ``X_test``,
        ``golden_test``, ``groups_test`` (prompt ids continuing after the
        training ones) and ``response_test``.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from pathlib import Path
    >>> from skreward.datasets import load_embedding_arrays
    >>> folder = Path(tempfile.mkdtemp())
    >>> rng = np.random.default_rng(0)
    >>> np.save(folder / "train.npy", rng.normal(size=(3, 10, 4)).astype(np.float32))
    >>> np.save(folder / "train_rewards.npy", rng.normal(size=(3, 10)))
    >>> data = load_embedding_arrays(folder / "train.npy", folder / "train_rewards.npy")
    >>> data.X.shape, data.X.dtype, data.golden.shape
    ((30, 4), dtype('float32'), (30,))
    >>> data.groups[:12].tolist()
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    """
    if (test_embeddings is None) != (test_rewards is None):
        raise ValueError("test_embeddings and test_rewards go together: pass both or neither.")
    train = _load_split(embeddings, rewards, layout, rewards_layout, embeddings_key,
                        rewards_key, mmap_mode, "embeddings", "rewards")
    data = Bunch(**train)
    if test_embeddings is not None:
        test = _load_split(test_embeddings, test_rewards, layout, rewards_layout,
                           embeddings_key, rewards_key, mmap_mode, "test_embeddings",
                           "test_rewards")
        if test["X"].shape[1] != train["X"].shape[1]:
            raise ValueError(
                f"test_embeddings have {test['X'].shape[1]} features but embeddings have "
                f"{train['X'].shape[1]}; both splits must come from the same embedding model.")
        test["groups"] = test["groups"] + train["groups"].max() + 1
        data.update({f"{key}_test": value for key, value in test.items()})
    return data


def _load_split(embeddings, rewards, layout, rewards_layout, embeddings_key, rewards_key,
                mmap_mode, embeddings_name, rewards_name):
    E, e_what = _read(embeddings, embeddings_key, "embeddings", mmap_mode, embeddings_name)
    R, r_what = _read(rewards, rewards_key, "rewards", None, rewards_name)
    if E.ndim != 3:
        raise ValueError(
            f"{e_what} must have shape (n_prompts, n_responses, n_features) (or responses "
            f"first); got shape {E.shape}.")
    if R.ndim == 3 and R.shape[2] == 1:
        R = R[:, :, 0]
    if R.ndim != 2:
        raise ValueError(
            f"{r_what} must have shape (n_prompts, n_responses) or (n_prompts, n_responses, 1) "
            f"(or responses first); got shape {R.shape}.")
    same, swapped = R.shape == E.shape[:2], R.shape == E.shape[1::-1]
    if not (same or swapped):
        raise ValueError(
            f"The shapes disagree: {r_what} has shape {R.shape} but {e_what} has shape "
            f"{E.shape}; the rewards must have shape {E.shape[:2]} or {E.shape[1::-1]} (one "
            "reward per response), optionally with a trailing axis of 1.")
    if rewards_layout == "auto":
        if same and swapped:
            raise ValueError(
                f"The axis order of {r_what} (shape {R.shape}) is ambiguous: as many prompts as "
                "responses, so either order matches the embeddings. Pass rewards_layout="
                "'prompts_first' or 'responses_first'.")
        rewards_layout = layout if same else _other(layout)
    elif R.shape != (E.shape[:2] if rewards_layout == layout else E.shape[1::-1]):
        raise ValueError(
            f"The shapes disagree: with layout={layout!r} and rewards_layout="
            f"{rewards_layout!r}, {r_what} of shape {R.shape} does not match {e_what} of shape "
            f"{E.shape}.")
    if rewards_layout != layout:
        R = R.T  # the rewards in the embeddings' order: items are read as the file stores them
    first, second = E.shape[:2]
    X = E.reshape(first * second, E.shape[2])  # a view: C-ordered first axes
    index_first = np.repeat(np.arange(first), second)
    index_second = np.tile(np.arange(second), first)
    groups, response = ((index_first, index_second) if layout == "prompts_first"
                        else (index_second, index_first))
    golden = check_rewards(np.ascontiguousarray(R).reshape(-1), len(X), input_name=r_what)
    return {"X": X, "golden": golden, "groups": groups, "response": response}


def _other(layout):
    return LAYOUTS[1 - LAYOUTS.index(layout)]


def _read(source, key, default_key, mmap_mode, name):
    """An array from a ``.npy`` / ``.npz`` file or array-like, and how to name it in messages."""
    if not isinstance(source, (str, Path)):
        array = np.asarray(source)
        if array.dtype == object:
            raise ValueError(f"{name} must be numbers; got an array of Python objects.")
        return array, f"{name} (an array)"
    path = Path(source).expanduser()
    what = f"{name} ({path.name})"
    if not path.is_file():
        raise ValueError(f"{name}: {str(path)!r} is not a file.")
    if path.suffix == ".npy":
        return _load_npy(path, mmap_mode, what), what
    if path.suffix != ".npz":
        raise ValueError(f"{name} must be a .npy or .npz file; got {path.name!r}.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = archive.files
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{what} is not a readable .npz file ({error}).") from error
    if key is None:
        key = names[0] if len(names) == 1 else default_key
    if key not in names:
        raise ValueError(
            f"{what} holds no array {key!r}; it holds {names}. Name the one to read with "
            f"{default_key}_key=.")
    what = f"{name} ({path.name}[{key!r}])"
    return _load_npz_member(path, key, mmap_mode, what), what


def _load_npy(path, mmap_mode, what):
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{what} is not a readable .npy file ({error}).") from error


def _load_npz_member(path, key, mmap_mode, what):
    """One array of an ``.npz``: memory-mapped where it is stored uncompressed, else read."""
    if mmap_mode is not None:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(f"{key}.npy")
        if info.compress_type == zipfile.ZIP_STORED:
            with open(path, "rb") as file:  # the member's data follows its local file header
                file.seek(info.header_offset)
                header = file.read(30)
                start = (info.header_offset + 30 + int.from_bytes(header[26:28], "little")
                         + int.from_bytes(header[28:30], "little"))
                file.seek(start)
                version = np.lib.format.read_magic(file)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(file)
                offset = file.tell()
            if not dtype.hasobject:
                return np.memmap(path, dtype=dtype, mode=mmap_mode, shape=shape,
                                 order="F" if fortran else "C", offset=offset)
    with np.load(path, allow_pickle=False) as archive:
        try:
            return archive[key]
        except ValueError as error:
            raise ValueError(f"{what} is not a numeric array ({error}).") from error
