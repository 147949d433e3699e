"""Loaders of preference data files the user has; nothing is downloaded."""

import gzip
import json
import warnings
import zlib
from pathlib import Path

import numpy as np

_ASSISTANT = "\n\nAssistant:"


def _read_jsonl(path, *, input_name="path"):
    """Records of a JSON-lines file, gzip-compressed or not (told by its first bytes)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"{input_name}={str(path)!r} is not a file. The loaders read files "
                         "you have; nothing is downloaded.")
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    records = []
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(
                        f"{input_name}: line {number} of {path.name} is not valid JSON "
                        f"({err.msg}); expected one JSON object per line.") from err
                if not isinstance(record, dict):
                    raise ValueError(f"{input_name}: line {number} of {path.name} is a "
                                     f"{type(record).__name__}, not a JSON object.")
                records.append(record)
    except UnicodeDecodeError as err:
        raise ValueError(f"{input_name}: {path.name} is not UTF-8 text ({err.reason}); "
                         "expected a UTF-8 JSON-lines file, gzip-compressed or not.") from err
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"{input_name}: {path.name} is a damaged or truncated gzip file "
                         f"({err}); download or compress it again.") from err
    if not records:
        raise ValueError(f"{input_name}: {path.name} holds no records.")
    return records


def _require(record, fields, number, path, input_name):
    missing = [f for f in fields if f not in record]
    if missing:
        raise ValueError(f"{input_name}: record {number} of {Path(path).name} lacks field(s) "
                         f"{missing}; expected fields {list(fields)}, got {list(record)[:10]}.")


def split_dialogue_pair(chosen, rejected):
    """Shared context and the two final turns of a pair of HH-RLHF dialogues.

    The context is the longest common start of both dialogues that ends just
    before an ``"\\n\\nAssistant:"`` marker; the responses are what follows
    that marker (normally the final assistant turn of each).
    """
    end = 0
    limit = min(len(chosen), len(rejected))
    while end < limit and chosen[end] == rejected[end]:
        end += 1
    cut = chosen.rfind(_ASSISTANT, 0, end)  # the last marker inside the common start
    if cut < 0:
        return None
    prompt = chosen[:cut].strip()
    return (prompt, chosen[cut + len(_ASSISTANT):].strip(),
            rejected[cut + len(_ASSISTANT):].strip())


def load_hh_rlhf(path, *, drop_empty=True):
    """Load Anthropic's HH-RLHF comparisons from a local jsonl(.gz) file.

    Every line holds ``{"chosen": dialogue, "rejected": dialogue}``, two
    dialogues ``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` that share their
    start and differ in the final assistant turn. Each is split into the
    shared context (the ``prompt``) and the two final turns, so the
    responses are embedded whole and never lost to truncation of a long
    dialogue.

    Parameters
    ----------
    path : str or path-like
        A file in the HH-RLHF format, e.g. ``harmless-base/test.jsonl.gz``
        of https://github.com/anthropics/hh-rlhf (gzip or plain text).
    drop_empty : bool, default=True
        Drop comparisons where either final turn is empty or whitespace-only
        (a handful in HH-RLHF), which the text front ends refuse by default.
        A dropped comparison is counted in ``data.attrs["n_dropped_empty"]``
        and announced by a ``UserWarning``. ``False`` keeps them (embed them
        with ``SentenceEmbedder(allow_empty=True)``).

    Returns
    -------
    data : pandas.DataFrame
        One row per comparison: ``prompt`` (the shared context, from
        ``"Human: ..."`` to the last human turn), ``chosen`` and ``rejected``
        (the final assistant turns, without the ``"Assistant:"`` marker), and
        ``dialogue`` (the line number, from 0), by which cross-validation
        should group. In the rare pairs whose dialogues part before their
        final turn, the context is their common start up to an assistant
        turn and the responses are the rest. ``data.attrs["n_dropped_empty"]``:
        the comparisons dropped by ``drop_empty`` (0 when kept).

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from skreward.datasets import load_hh_rlhf
    >>> line = {"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello! How can I help?",
    ...         "rejected": "\\n\\nHuman: Hi\\n\\nAssistant: What?"}
    >>> path = Path(tempfile.mkdtemp()) / "test.jsonl"
    >>> _ = path.write_text(json.dumps(line) + "\\n")
    >>> data = load_hh_rlhf(path)
    >>> data.loc[0, ["prompt", "chosen", "rejected"]].tolist()
    ['Human: Hi', 'Hello! How can I help?', 'What?']
    """
    import pandas as pd

    records = _read_jsonl(path)
    rows = []
    for number, record in enumerate(records):
        _require(record, ("chosen", "rejected"), number, path, "path")
        chosen, rejected = record["chosen"], record["rejected"]
        if not isinstance(chosen, str) or not isinstance(rejected, str):
            raise ValueError(f"path: record {number} of {Path(path).name}: chosen and rejected "
                             "must be strings.")
        split = split_dialogue_pair(chosen, rejected)
        if split is None:
            raise ValueError(
                f"path: record {number} of {Path(path).name} is not an HH-RLHF pair: its "
                "dialogues share no context ending at an '\\n\\nAssistant:' turn.")
        rows.append((*split, number))
    data = pd.DataFrame(rows, columns=["prompt", "chosen", "rejected", "dialogue"])
    empty = (data["chosen"].str.strip() == "") | (data["rejected"].str.strip() == "")
    return _drop_empty(data, empty if drop_empty else None, "load_hh_rlhf", "comparisons",
                       "whose chosen or rejected answer is empty")


def load_scored_responses(path, *, group="question_id", prompt="prompt", response="response",
                          score="score", drop_empty=True):
    """Load prompts with several scored responses from a local jsonl(.gz) file.

    One line per (prompt, response) with a score, e.g. the arena-bench file
    of Arena-Hard-Auto (GPT-4 grades of several models' answers per prompt).
    The score serves as the golden reward of simulated annotation and of
    Best-of-N evaluation.

    Parameters
    ----------
    path : str or path-like
        JSON-lines file (gzip or plain text), one object per response.
    group, prompt, response, score : str
        The fields holding the prompt id, the prompt text, the response text
        and the score.
    drop_empty : bool, default=True
        Drop responses that are empty or whitespace-only (a few in
        arena-bench), which the text front ends refuse by default. The count
        is kept in ``data.attrs["n_dropped_empty"]`` and announced by a
        ``UserWarning``. ``False`` keeps every candidate, as Best-of-N on the
        full candidate sets needs (embed them with
        ``SentenceEmbedder(allow_empty=True)``).

    Returns
    -------
    data : pandas.DataFrame
        One row per response: ``group`` (prompt id), ``prompt``, ``response``,
        ``score`` (float), then any other fields of the file (e.g. ``model``),
        in the file's order. ``data.attrs["n_dropped_empty"]``: the responses
        dropped by ``drop_empty`` (0 when kept).

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from skreward.datasets import load_scored_responses
    >>> lines = [{"question_id": "q1", "prompt": "2+2?", "response": "4", "score": 10},
    ...          {"question_id": "q1", "prompt": "2+2?", "response": "5", "score": 1}]
    >>> path = Path(tempfile.mkdtemp()) / "scored.jsonl"
    >>> _ = path.write_text("\\n".join(json.dumps(line) for line in lines))
    >>> data = load_scored_responses(path)
    >>> data[["group", "response", "score"]].values.tolist()
    [['q1', '4', 10.0], ['q1', '5', 1.0]]
    """
    import pandas as pd

    fields = {"group": group, "prompt": prompt, "response": response, "score": score}
    records = _read_jsonl(path)
    for number, record in enumerate(records):
        _require(record, list(fields.values()), number, path, "path")
    data = pd.DataFrame.from_records(records)
    renamed = {source: target for target, source in fields.items()}
    others = [c for c in data.columns if c not in renamed]
    clash = [c for c in others if c in fields]
    if clash:
        raise ValueError(f"path: field(s) {clash} would clash with the output columns "
                         f"{list(fields)}; name the fields to use with group=, prompt=, "
                         "response=, score=.")
    data = data.rename(columns=renamed)[list(fields) + others]
    for name in ("prompt", "response"):
        bad = ~data[name].map(lambda v: isinstance(v, str))
        if bad.any():
            raise ValueError(f"path: field {fields[name]!r} must hold strings; record "
                             f"{int(np.flatnonzero(bad)[0])} holds "
                             f"{data[name][bad].iloc[0]!r}.")
    missing = data["group"].isna()
    if missing.any():
        raise ValueError(f"path: field {group!r} must hold a prompt id in every record; record "
                         f"{int(np.flatnonzero(missing)[0])} holds null.")
    try:
        data["score"] = data["score"].astype(np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"path: field {score!r} must hold numbers ({err}).") from err
    bad = ~np.isfinite(data["score"].to_numpy())
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"path: field {score!r} must hold a finite number in every record "
                         f"(the golden reward); record {first} holds "
                         f"{records[first][score]!r}.")
    empty = data["response"].str.strip() == ""
    return _drop_empty(data, empty if drop_empty else None, "load_scored_responses",
                       "responses", "that are empty")


def _drop_empty(data, empty, loader, rows, why):
    """``data`` less the rows of ``empty`` (None: keep all), their count in ``attrs``, a warning."""
    n_dropped = 0 if empty is None else int(empty.sum())
    if n_dropped:
        data = data[~empty.to_numpy()].reset_index(drop=True)
        warnings.warn(f"{loader} dropped {n_dropped} {rows} {why} (or whitespace only) "
                      "(drop_empty=True); pass drop_empty=False to keep them, and "
                      "allow_empty=True to the text front end to embed them.", UserWarning,
                      stacklevel=3)
    data.attrs["n_dropped_empty"] = n_dropped
    return data
