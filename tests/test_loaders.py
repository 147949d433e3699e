"""Loaders of HH-RLHF comparisons and of prompts with scored responses."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from skreward.datasets import load_hh_rlhf, load_scored_responses

DATA = Path(__file__).parent / "data"  # a sample of the real files; see its README.md
HH_FILE = DATA / "hh_rlhf_harmless_base_test_sample.jsonl.gz"
ARENA_FILE = DATA / "arena_bench_v1_scored_sample.jsonl.gz"


def _write_jsonl(path, records, *, compress=False):
    text = "\n".join(json.dumps(r) for r in records) + "\n"
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_hh_rlhf_splits_dialogues_into_shared_context_and_final_turns(tmp_path):
    records = [
        {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Help me steal.\n\nAssistant: No.",
         "rejected": "\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Help me steal.\n\nAssistant: "
                     "Sure, take the car."},
        # Dialogues that part before their final turn: the context is their common start.
        {"chosen": "\n\nHuman: Q\n\nAssistant: A\n\nHuman: R\n\nAssistant: B",
         "rejected": "\n\nHuman: Q\n\nAssistant: C"},
        {"chosen": "\n\nHuman: Q\n\nAssistant: ", "rejected": "\n\nHuman: Q\n\nAssistant: D"},
    ]
    path = _write_jsonl(tmp_path / "hh.jsonl.gz", records, compress=True)
    with pytest.warns(UserWarning, match="dropped 1 comparisons"):
        data = load_hh_rlhf(path)
    assert data.columns.tolist() == ["prompt", "chosen", "rejected", "dialogue"]
    assert data.iloc[0].tolist() == ["Human: Hi\n\nAssistant: Hello.\n\nHuman: Help me steal.",
                                     "No.", "Sure, take the car.", 0]
    assert data.iloc[1].tolist() == ["Human: Q", "A\n\nHuman: R\n\nAssistant: B", "C", 1]
    assert len(data) == 2  # the empty final turn is dropped ...
    assert load_hh_rlhf(path, drop_empty=False).loc[2, "chosen"] == ""  # ... unless kept


def test_hh_rlhf_real_file_keeps_every_final_turn():
    data = load_hh_rlhf(HH_FILE, drop_empty=False)
    assert len(data) == 40 and data["dialogue"].is_unique
    with gzip.open(HH_FILE, "rt", encoding="utf-8") as f:
        first = json.loads(f.readline())
    assert first["chosen"].endswith(data.loc[0, "chosen"])
    assert first["rejected"].endswith(data.loc[0, "rejected"])
    assert (data["chosen"] != data["rejected"]).all()
    # Record 38 has an empty chosen turn (dropped by default); the dialogues of record 39
    # part before their final turn, so its responses hold the rest of each dialogue.
    assert data.loc[38, "chosen"] == "" and data.loc[38, "rejected"] != ""
    assert "\n\nAssistant:" in data.loc[39, "chosen"]
    with pytest.warns(UserWarning, match="dropped 1 comparisons"):
        assert len(load_hh_rlhf(HH_FILE)) == 39


def test_scored_responses_have_group_prompt_response_score(tmp_path):
    records = [{"qid": 7, "text": "2+2?", "answer": "4", "grade": "10", "model": "m1"},
               {"qid": 7, "text": "2+2?", "answer": "", "grade": 1, "model": "m2"},
               {"qid": 8, "text": "Hi", "answer": "Hello", "grade": 9.5, "model": "m1"}]
    path = _write_jsonl(tmp_path / "scored.jsonl", records)
    with pytest.warns(UserWarning, match="dropped 1 responses"):
        data = load_scored_responses(path, group="qid", prompt="text", response="answer",
                                     score="grade")
    assert data.columns.tolist() == ["group", "prompt", "response", "score", "model"]
    assert data["score"].tolist() == [10.0, 9.5] and data["group"].tolist() == [7, 8]
    assert len(load_scored_responses(path, group="qid", prompt="text", response="answer",
                                     score="grade", drop_empty=False)) == 3


def test_scored_responses_real_arena_bench_file():
    with pytest.warns(UserWarning, match="dropped 1 responses"):
        data = load_scored_responses(ARENA_FILE)
    assert len(data) == 64 - 1 and data["group"].nunique() == 4  # one empty answer dropped
    assert sorted(data["group"].value_counts()) == [15, 16, 16, 16]
    assert len(load_scored_responses(ARENA_FILE, drop_empty=False)) == 64
    assert data["score"].between(1, 10).all() and data["score"].dtype == np.float64


def test_loader_errors_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="path=.*is not a file.*nothing is downloaded"):
        load_hh_rlhf(tmp_path / "missing.jsonl")
    bad = _write_jsonl(tmp_path / "bad.jsonl", [{"chosen": "\n\nHuman: Hi\n\nAssistant: A"}])
    with pytest.raises(ValueError, match=r"path: record 0 .* lacks field\(s\) \['rejected'\]"):
        load_hh_rlhf(bad)
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    with pytest.raises(ValueError, match="line 1 of broken.jsonl is not valid JSON"):
        load_scored_responses(tmp_path / "broken.jsonl")
    odd = _write_jsonl(tmp_path / "odd.jsonl", [{"chosen": "A", "rejected": "B"}])
    with pytest.raises(ValueError, match="not an HH-RLHF pair"):
        load_hh_rlhf(odd)
    scored = _write_jsonl(tmp_path / "s.jsonl", [{"question_id": 1, "prompt": "p",
                                                  "response": "r", "score": "high"}])
    with pytest.raises(ValueError, match="field 'score' must hold numbers"):
        load_scored_responses(scored)
