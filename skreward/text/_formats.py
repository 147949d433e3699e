"""Preference data in TRL's formats, turned into skreward's one table of texts.

:func:`normalize_preferences` is the one place where the formats of TRL's
dataset guide (standard, implicit prompt, conversational; paired and
unpaired) become the table the text front ends read: ``prompt, chosen,
rejected`` for comparisons, ``prompt, response`` for items. Conversations
become text by :func:`render_conversation`; the training signals (``label``,
``weight``, ``margin``) are checked in ``_signals.py``.
"""

import numpy as np

from ._signals import item_labels, pair_signals

#: How the plain rendering names each role (Anthropic's HH-RLHF convention).
ROLE_NAMES = {"system": "System", "user": "Human", "assistant": "Assistant", "tool": "Tool"}
TURN_SEPARATOR = "\n\n"
_ASSISTANT_MARKER = TURN_SEPARATOR + ROLE_NAMES["assistant"] + ":"
SIGNALS = ("label", "weight", "margin")


def render_conversation(messages, *, tokenizer=None, continues=None):
    """The text of a list of ``{"role", "content"}`` messages, as the embedders read it.

    Plain rendering (no ``tokenizer``, or one without a chat template): each
    message as ``"<Role>: <content>"``, with roles ``system``, ``user``,
    ``assistant`` and ``tool`` named ``System``, ``Human``, ``Assistant``
    and ``Tool`` (the convention of Anthropic's HH-RLHF), joined by a blank
    line and stripped of surrounding whitespace. Contents are kept verbatim.

    Parameters
    ----------
    messages : list of dict
        The turns, each with a ``role`` and a string ``content``; checked.
    tokenizer : Hugging Face tokenizer, default=None
        When it has a ``chat_template``, the text is the template's
        rendering (``apply_chat_template(..., tokenize=False)``) instead.
    continues : list of dict, default=None
        The conversation (the prompt) that ``messages`` answer. Plain
        rendering: a completion that opens with an assistant turn omits that
        turn's ``"Assistant:"`` marker, since the reply follows the prompt.
        With a chat template, the prompt is rendered with the generation
        prompt and the completion is what the template adds after it.

    Returns
    -------
    text : str

    Examples
    --------
    >>> from skreward.text import render_conversation
    >>> prompt = [{"role": "user", "content": "What color is the sky?"}]
    >>> render_conversation(prompt)
    'Human: What color is the sky?'
    >>> render_conversation([{"role": "assistant", "content": "Blue."}], continues=prompt)
    'Blue.'
    """
    messages = _check_messages(messages, "messages", None, allow_empty=True)
    if continues is not None:
        continues = _check_messages(continues, "continues", None)
    return _render(messages, tokenizer, continues)


def _render(messages, tokenizer, continues, prompt=False):
    """The text of messages; ``prompt``: a prompt, followed by the template's generation prompt."""
    template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    if template:
        if continues is None:
            return tokenizer.apply_chat_template(messages, tokenize=False,
                                                 add_generation_prompt=prompt)
        head = tokenizer.apply_chat_template(continues, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(list(continues) + messages, tokenize=False)
        n = 0  # the completion: what the full rendering adds after the prompt's
        while n < min(len(head), len(full)) and head[n] == full[n]:
            n += 1
        return full[n:]
    parts = [f"{ROLE_NAMES[m['role']]}: {m['content']}" for m in messages]
    if continues is not None and messages[0]["role"] == "assistant":
        parts[0] = messages[0]["content"]
    return TURN_SEPARATOR.join(parts).strip()


def normalize_preferences(data, *, tokenizer=None, allow_empty=False):
    """Turn preference data in any of TRL's formats into skreward's table of texts.

    Accepted formats (TRL's dataset guide), told apart by their columns:

    * **standard preference**: ``prompt``, ``chosen``, ``rejected`` strings;
    * **implicit prompt**: ``chosen`` and ``rejected`` full texts (no
      ``prompt``), whose shared start is split off as the prompt: at the last
      ``"\\n\\nAssistant:"`` turn inside it (HH-RLHF dialogues, and the plain
      rendering of conversations), else at the last whitespace, so no word
      is cut; a pair that shares no start is an error naming its row;
    * **conversational**: the same fields as lists of ``{"role",
      "content"}`` messages, prompt explicit or implicit (the shared leading
      messages; the reply starts at the last assistant turn before the two
      conversations part), multi-turn; rendered by
      :func:`render_conversation`;
    * **unpaired preference**: ``prompt``, ``completion`` and a boolean
      ``label`` (thumbs up / down), strings or messages, giving items
      ``prompt, response, label``; ``prompt, completion`` without a label
      and skreward's items ``prompt, response`` give items too.

    Parameters
    ----------
    data : DataFrame, dict of lists or datasets.Dataset
        One row per comparison or item. A Hugging Face ``datasets.Dataset``
        is read with ``to_dict()`` (``datasets`` is imported only by its
        caller). Files: :func:`skreward.datasets.load_preferences`.
    tokenizer : Hugging Face tokenizer, default=None
        Renders conversations with its chat template when it has one;
        otherwise the plain rendering.
    allow_empty : bool, default=False
        Whether a response (or a completion's message) may be empty. Prompt
        messages must always hold text.

    Returns
    -------
    table : pandas.DataFrame
        Comparisons: ``prompt``, ``chosen``, ``rejected`` strings (the chosen
        first), then the training signals found: ``label`` (soft label, the
        probability in [0, 1] that the chosen answer is preferred), ``weight``
        (non-negative) and ``margin`` (non-negative), then any other columns.
        Items: ``prompt``, ``response``, ``label`` (bool) when given, then
        other columns. ``table.attrs["kind"]`` is ``"comparisons"`` or
        ``"items"``.

    Examples
    --------
    >>> from skreward.text import normalize_preferences
    >>> conversational = {
    ...     "prompt": [[{"role": "user", "content": "What color is the sky?"}]],
    ...     "chosen": [[{"role": "assistant", "content": "It is blue."}]],
    ...     "rejected": [[{"role": "assistant", "content": "It is green."}]],
    ...     "margin": [1.5]}
    >>> table = normalize_preferences(conversational)
    >>> table.loc[0, ["prompt", "chosen", "rejected"]].tolist()
    ['Human: What color is the sky?', 'It is blue.', 'It is green.']
    >>> float(table.loc[0, "margin"])
    1.5
    >>> implicit = {"chosen": ["The sky is blue."], "rejected": ["The sky is green."]}
    >>> normalize_preferences(implicit).iloc[0].tolist()
    ['The sky is', 'blue.', 'green.']
    >>> unpaired = {"prompt": ["Hi"], "completion": ["Hello!"], "label": [True]}
    >>> normalize_preferences(unpaired).to_dict("records")
    [{'prompt': 'Hi', 'response': 'Hello!', 'label': True}]
    """
    import pandas as pd

    columns = table_columns(data)
    if "chosen" in columns and "rejected" in columns:
        kind, texts = "comparisons", _pairs(columns, tokenizer, allow_empty)
        signals = pair_signals(columns, len(texts["chosen"]))
    elif "completion" in columns or "response" in columns:
        kind, texts = "items", _items(columns, tokenizer, allow_empty)
        signals = item_labels(columns)
    else:
        raise ValueError(
            "data must hold preferences in one of TRL's formats: columns ('prompt', 'chosen', "
            "'rejected'), ('chosen', 'rejected') with an implicit prompt, or ('prompt', "
            f"'completion', 'label') for unpaired feedback; got columns {list(columns)[:10]}.")
    used = {"prompt", "chosen", "rejected", "completion", "response", *signals}
    others = {c: v for c, v in columns.items() if c not in used and c not in texts}
    table = pd.DataFrame({**texts, **signals, **others})
    table.attrs["kind"] = kind
    return table


# -- reading the input ---------------------------------------------------------------


def table_columns(data):
    """``{column: list}`` of a DataFrame, a dict of lists or a ``datasets.Dataset``."""
    import pandas as pd

    module = type(data).__module__.split(".")[0]
    if module == "datasets" and isinstance(getattr(data, "column_names", None), list):
        return {str(c): list(v) for c, v in data.to_dict().items()}
    if module == "datasets":
        raise ValueError(
            f"data is a {type(data).__name__}; pass one split of it (a datasets.Dataset, "
            "e.g. dataset['train']).")
    if isinstance(data, pd.DataFrame):
        return {str(c): data[c].tolist() for c in data.columns}
    if isinstance(data, dict):
        return {str(c): list(v) for c, v in data.items()}
    raise ValueError(
        "data must be a pandas DataFrame, a dict of lists or a datasets.Dataset of "
        f"preferences; got {type(data).__name__}. Read files with "
        "skreward.datasets.load_preferences(path).")


def _is_messages(value):
    return isinstance(value, (list, tuple, np.ndarray))


def _check_messages(messages, field, row, *, allow_empty=False):
    """The messages of one field of one row as a list of dicts, or a ValueError naming both."""
    where = f"{field!r}" if row is None else f"{field!r} at row {row}"
    if not _is_messages(messages) or len(messages) == 0:
        raise ValueError(f"{where} must be a non-empty list of {{'role', 'content'}} messages; "
                         f"got {type(messages).__name__}.")
    out = []
    for k, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ValueError(f"{where}: message {k} must be a dict with 'role' and 'content'; "
                             f"got {type(message).__name__}.")
        missing = [key for key in ("role", "content") if key not in message
                   or message[key] is None]
        if missing:
            raise ValueError(f"{where}: message {k} has no {' or '.join(missing)}; every "
                             "message needs a 'role' and a 'content'.")
        role, content = message["role"], message["content"]
        if role not in ROLE_NAMES:
            raise ValueError(f"{where}: message {k} has the unknown role {role!r}; expected "
                             f"one of {sorted(ROLE_NAMES)}.")
        if not isinstance(content, str):
            raise ValueError(f"{where}: message {k} has a {type(content).__name__} content; "
                             "expected a string (multimodal content is not supported).")
        if not content.strip() and not allow_empty:
            raise ValueError(f"{where}: message {k} ({role}) has empty content; every message "
                             "must hold text (drop or fill the row).")
        out.append({"role": role, "content": content})
    return out


def _text(value, field, row, allow_empty):
    if not isinstance(value, str):
        raise ValueError(f"{field!r} at row {row} must be a string or a list of messages; got "
                         f"{type(value).__name__}.")
    if not value.strip() and not allow_empty:
        raise ValueError(f"{field!r} at row {row} is empty (or whitespace only); drop or fill "
                         "the row, or pass allow_empty=True for empty responses.")
    return value


def _split_strings(chosen, rejected, row):
    """Prompt and both answers of an implicit-prompt pair of strings."""
    end = 0
    limit = min(len(chosen), len(rejected))
    while end < limit and chosen[end] == rejected[end]:
        end += 1
    cut = chosen.rfind(_ASSISTANT_MARKER, 0, end)
    if cut >= 0:
        start = cut + len(_ASSISTANT_MARKER)
    else:
        def _boundary(text):  # a word ends at `end` in this text
            return end == len(text) or text[end].isspace()

        if (end > 0 and chosen[end - 1].isspace()) or (_boundary(chosen) and _boundary(rejected)):
            cut = end  # the shared start ends on a word boundary of both texts
        else:
            cut = max(chosen.rfind(c, 0, end) for c in (" ", "\n", "\t"))
        start = cut
    prompt = chosen[:max(cut, 0)].strip()
    if not prompt:
        raise ValueError(
            f"'chosen' and 'rejected' at row {row} share no prompt: with an implicit prompt "
            "both must start with the same prompt text (split at the last '\\n\\nAssistant:' "
            "turn, or at a word boundary). Pass a 'prompt' column instead.")
    return prompt, chosen[start:].strip(), rejected[start:].strip()


def _split_messages(chosen, rejected, row):
    """Shared leading messages (up to the last assistant turn before they part) and the rest."""
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    while n > 0 and (n >= min(len(chosen), len(rejected)) or "assistant" not in (
            chosen[n]["role"], rejected[n]["role"]) or chosen[n]["role"] != rejected[n]["role"]):
        n -= 1  # the answers start at an assistant turn of both
    if n == 0:
        raise ValueError(
            f"'chosen' and 'rejected' at row {row} share no prompt: with an implicit prompt "
            "both conversations must start with the same messages, before an assistant turn. "
            "Pass a 'prompt' column instead.")
    return chosen[:n], chosen[n:], rejected[n:]


def _pairs(columns, tokenizer, allow_empty):
    chosen, rejected = columns["chosen"], columns["rejected"]
    prompts = columns.get("prompt")
    out = {"prompt": [], "chosen": [], "rejected": []}
    for i in range(len(chosen)):
        c, r = chosen[i], rejected[i]
        p = None if prompts is None else prompts[i]
        if _is_messages(c) or _is_messages(r) or _is_messages(p):
            c = _check_messages(c, "chosen", i, allow_empty=allow_empty)
            r = _check_messages(r, "rejected", i, allow_empty=allow_empty)
            if p is None:
                p, c, r = _split_messages(c, r, i)
            else:
                p = _check_messages(p, "prompt", i)
            p, c, r = (_render(p, tokenizer, None, True), _render(c, tokenizer, p),
                       _render(r, tokenizer, p))
        elif p is None:
            p, c, r = _split_strings(_text(c, "chosen", i, False),
                                     _text(r, "rejected", i, False), i)
        else:
            p = _text(p, "prompt", i, False)
        for field, value in (("prompt", p), ("chosen", c), ("rejected", r)):
            out[field].append(_text(value, field, i, allow_empty and field != "prompt"))
    return out


def _items(columns, tokenizer, allow_empty):
    field = "completion" if "completion" in columns else "response"
    responses, prompts = columns[field], columns.get("prompt")
    out = {"prompt": [], "response": []}
    for i, response in enumerate(responses):
        p = None if prompts is None else prompts[i]
        if _is_messages(response) or _is_messages(p):
            response = _check_messages(response, field, i, allow_empty=allow_empty)
            p = None if p is None else _check_messages(p, "prompt", i)
            response = _render(response, tokenizer, p)
            p = None if p is None else _render(p, tokenizer, None, True)
        out["prompt"].append(None if p is None else _text(p, "prompt", i, False))
        out["response"].append(_text(response, field, i, allow_empty))
    if prompts is None:
        del out["prompt"]
    return out


# -- the text front ends' entry ------------------------------------------------------


def as_text_table(X, *, needs_prompt=True, tokenizer=None, allow_empty=False):
    """What a text front end reads: ``X`` itself when it is already a table of strings
    (``check_texts`` validates it, as before), else ``X`` normalised.

    Pairs of strings without a prompt are split as an implicit prompt only
    when the front end reads the prompt (``needs_prompt``); otherwise they are
    the responses as given, as the front ends have always read them.
    """
    import pandas as pd

    if type(X).__module__.split(".")[0] == "datasets":
        X = table_columns(X)
    if not isinstance(X, (pd.DataFrame, dict)):
        return X  # check_texts names what to pass
    names = {str(c) for c in X}
    standard = "response" in names or ({"chosen", "rejected"} <= names
                                       and ("prompt" in names or not needs_prompt))
    texts = [c for c in X if str(c) in ("prompt", "chosen", "rejected", "response")]
    trl = {"chosen", "rejected"} <= names or "completion" in names
    if (standard or not trl) and not any(_is_messages(v) for c in texts for v in X[c]):
        return X
    try:
        return normalize_preferences(X, tokenizer=tokenizer, allow_empty=allow_empty)
    except ValueError as err:  # the front ends' argument is X, not normalize_preferences' data
        message = str(err)
        raise ValueError("X" + message[4:] if message.startswith("data ")
                         else f"X: {message}") from None


class LazyTokenizer:
    """A tokenizer loaded on first use: conversations need it, strings never do."""

    def __init__(self, load):
        self._load, self._tokenizer = load, None

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if self._tokenizer is None:
            self._tokenizer = self._load()
        return getattr(self._tokenizer, name)
