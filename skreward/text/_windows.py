"""Token-window arithmetic: which part of each text a sentence-transformer reads.

A model reads at most ``max_seq_length`` tokens of a text. These helpers
decide what those tokens are, so that the part of a text that matters
survives: the end of a prompt (its last turns), the whole response of a
joint text, or every window of a long response. They need only a Hugging
Face tokenizer.
"""

import numpy as np

JOINT_SEPARATOR = "\n\n"


def chunks(order, sizes, step):
    """Consecutive pieces of ``order`` holding about ``step`` windows each."""
    ends = np.searchsorted(np.cumsum(sizes), np.arange(step, sum(sizes), step), side="left")
    return [chunk for chunk in np.split(order, np.unique(ends + 1)) if len(chunk)]


def prepare_texts(tokenizer, requests, max_seq_length, max_windows=16):
    """The texts (windows) the model reads for each request, as one list per request.

    ``("head", t)``: ``t`` (the model keeps its start). ``("windows", t)``:
    ``t`` cut into consecutive windows that fit the model (at most
    ``max_windows``; beyond them the text is cut). ``("tail", t)``: the end of
    ``t`` that fits the window. ``("joint", prompt, response)``: the end of
    the prompt, a blank line, the response; the response keeps the room it
    needs, the prompt at least a quarter of the window.
    """
    budget = max_seq_length - 2  # [CLS] and [SEP], or their kin
    texts = [None] * len(requests)
    roles = {"head": [], "windows": [], "tail": [], "joint": []}
    for i, request in enumerate(requests):
        roles[request[0]].append(i)
    for i in roles["head"]:
        texts[i] = [requests[i][1]]
    if roles["windows"]:
        split = windows(tokenizer, [requests[i][1] for i in roles["windows"]],
                        budget - 2, max_windows)  # 2 tokens of slack: a cut may retokenize
        for i, pieces in zip(roles["windows"], split):
            texts[i] = pieces
    if roles["tail"]:
        cut = keep_tail(tokenizer, [requests[i][1] for i in roles["tail"]],
                        [budget] * len(roles["tail"]))
        for i, text in zip(roles["tail"], cut):
            texts[i] = [text]
    if roles["joint"]:
        joints = roles["joint"]
        prompts = [requests[i][1] for i in joints]
        responses = [requests[i][2] for i in joints]
        n_response = n_tokens(tokenizer, responses, limit=budget)
        keep = [max(budget - n - 2, budget // 4) for n in n_response]
        for i, prompt, response in zip(joints, keep_tail(tokenizer, prompts, keep), responses):
            texts[i] = [prompt + JOINT_SEPARATOR + response]
    return texts


def windows(tokenizer, texts, size, max_windows):
    """Each text cut at token boundaries into consecutive pieces of ``size`` tokens."""
    out = [[t] for t in texts]
    long = [i for i, t in enumerate(texts) if len(t) > size]
    if long:
        enc = tokenizer([texts[i] for i in long], add_special_tokens=False,
                        return_offsets_mapping=True, verbose=False)
        for i, offsets in zip(long, enc["offset_mapping"]):
            if len(offsets) <= size:
                continue
            firsts = list(range(0, len(offsets), size))[:max_windows]
            starts = [offsets[k][0] for k in firsts]
            ends = starts[1:] + [offsets[min(firsts[-1] + size, len(offsets)) - 1][1]]
            out[i] = [w for w in (texts[i][a:b].strip() for a, b in zip(starts, ends)) if w]
    return out


def n_tokens(tokenizer, texts, *, limit):
    """Token counts, computed only for texts that could exceed ``limit``."""
    counts = [len(t) for t in texts]  # a token has at least one character
    long = [i for i, n in enumerate(counts) if n > limit]
    if long:
        ids = tokenizer([texts[i] for i in long], add_special_tokens=False,
                        verbose=False)["input_ids"]
        for i, row in zip(long, ids):
            counts[i] = len(row)
    return counts


def keep_tail(tokenizer, texts, budgets):
    """The end of each text that tokenizes to at most its budget of tokens."""
    out = list(texts)
    todo = [i for i, t in enumerate(texts) if len(t) > budgets[i]]
    for _ in range(4):  # re-check: a cut mid-word may tokenize into a few more tokens
        if not todo:
            break
        enc = tokenizer([out[i] for i in todo], add_special_tokens=False,
                        return_offsets_mapping=True, verbose=False)
        again = []
        for i, offsets in zip(todo, enc["offset_mapping"]):
            excess = len(offsets) - budgets[i]
            if excess > 0:
                out[i] = out[i][offsets[excess][0]:]
                again.append(i)
        todo = again
    return out
