"""A loader of preference files in TRL's formats (JSON lines or Parquet)."""

from pathlib import Path

from ._loaders import _read_jsonl


def load_preferences(path, *, tokenizer=None, allow_empty=False):
    """Load preferences in any of TRL's formats from a local JSON-lines or Parquet file.

    Reads the rows of ``path`` and normalises them with
    :func:`skreward.text.normalize_preferences`: standard, implicit-prompt and
    conversational preferences become comparisons ``prompt, chosen, rejected``
    (with ``label``, ``weight`` and ``margin`` columns when present);
    unpaired feedback (``prompt, completion, label``) becomes items
    ``prompt, response, label``. Nothing is downloaded: for a dataset on the
    Hugging Face Hub, save a split with ``Dataset.to_json`` / ``to_parquet``,
    or pass the ``datasets.Dataset`` itself to the text front ends.

    Parameters
    ----------
    path : str or path-like
        A ``.jsonl`` file (one JSON object per line; gzip-compressed or not,
        told by its first bytes, so ``.jsonl.gz`` works), or a ``.parquet``
        file.
    tokenizer : Hugging Face tokenizer, default=None
        Renders conversations with its chat template when it has one;
        otherwise the plain rendering of
        :func:`skreward.text.render_conversation`.
    allow_empty : bool, default=False
        Whether responses may be empty.

    Returns
    -------
    table : pandas.DataFrame
        As :func:`skreward.text.normalize_preferences` returns it;
        ``table.attrs["kind"]`` is ``"comparisons"`` or ``"items"``.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from skreward.datasets import load_preferences
    >>> row = {"prompt": [{"role": "user", "content": "2+2?"}],
    ...        "chosen": [{"role": "assistant", "content": "4"}],
    ...        "rejected": [{"role": "assistant", "content": "5"}]}
    >>> path = Path(tempfile.mkdtemp()) / "prefs.jsonl"
    >>> _ = path.write_text(json.dumps(row) + "\\n")
    >>> load_preferences(path).iloc[0].tolist()
    ['Human: 2+2?', '4', '5']
    """
    import pandas as pd

    from ..text import normalize_preferences

    path = Path(path).expanduser()
    if path.suffix == ".parquet":
        if not path.is_file():
            raise ValueError(f"path={str(path)!r} is not a file. The loaders read files you "
                             "have; nothing is downloaded.")
        data = pd.read_parquet(path)
    else:
        data = pd.DataFrame.from_records(_read_jsonl(path))
    return normalize_preferences(data, tokenizer=tokenizer, allow_empty=allow_empty)
