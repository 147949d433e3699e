"""TRL's preference formats, Hugging Face datasets and preference files: one table of texts."""

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from skreward import BTRegressor, EmbeddingCache, SentenceEmbedder, TextVectorizer
from skreward.datasets import load_hh_rlhf, load_preferences
from skreward.text import normalize_preferences, preference_targets, render_conversation

datasets = pytest.importorskip("datasets")

HH_FILE = Path(__file__).parent / "data" / "hh_rlhf_harmless_base_test_sample.jsonl.gz"
TEXT = ["prompt", "chosen", "rejected"]


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def hh_messages(text):
    """An HH-RLHF dialogue as TRL messages (as benchmarks/bench_formats.py converts it)."""
    import re

    parts = re.split(r"\n\n(Human|Assistant):", text)
    return [{"role": {"Human": "user", "Assistant": "assistant"}[role], "content": content[1:]}
            for role, content in zip(parts[1::2], parts[2::2])]


@pytest.fixture(scope="module")
def hh_records():
    return [json.loads(line) for line in gzip.open(HH_FILE, "rt", encoding="utf-8")]


@pytest.fixture(scope="module")
def three_ways(hh_records):
    """The HH-RLHF sample as the loader reads it, as TRL conversational, as an implicit Dataset."""
    baseline = load_hh_rlhf(HH_FILE, drop_empty=False)
    conversational = {"prompt": [], "chosen": [], "rejected": []}
    for record in hh_records:
        chosen, rejected = hh_messages(record["chosen"]), hh_messages(record["rejected"])
        shared = chosen[:-1] == rejected[:-1]
        conversational["prompt"].append(chosen[:-1] if shared else None)
        conversational["chosen"].append(chosen[-1:] if shared else chosen)
        conversational["rejected"].append(rejected[-1:] if shared else rejected)
    implicit = datasets.Dataset.from_dict({"chosen": [r["chosen"] for r in hh_records],
                                           "rejected": [r["rejected"] for r in hh_records]})
    return baseline, conversational, implicit


def test_hh_rlhf_three_ways_give_the_same_texts(three_ways):
    baseline, conversational, implicit = three_ways
    expected = baseline[TEXT]
    for data in (conversational, implicit):
        table = normalize_preferences(data, allow_empty=True)
        assert table.attrs["kind"] == "comparisons"
        pd.testing.assert_frame_equal(table[TEXT], expected)


@pytest.mark.slow
def test_hh_rlhf_three_ways_give_identical_embeddings(three_ways):
    baseline, conversational, implicit = three_ways
    rows = list(range(8))
    embedder = SentenceEmbedder(cache=EmbeddingCache(), allow_empty=True)
    expected = embedder.transform(baseline.iloc[rows])
    X_conv = embedder.transform({k: [v[i] for i in rows] for k, v in conversational.items()})
    X_implicit = embedder.transform(implicit.select(rows))
    np.testing.assert_array_equal(X_conv, expected)
    np.testing.assert_array_equal(X_implicit, expected)


def test_standard_table_is_kept_and_signals_are_typed():
    data = {"prompt": ["p1", "p2"], "chosen": ["a", "b"], "rejected": ["c", "d"],
            "label": [1, 0.75], "weight": [1, 2], "margin": [0, 1.5], "source": ["x", "y"]}
    table = normalize_preferences(data)
    assert list(table.columns) == [*TEXT, "label", "weight", "margin", "source"]
    assert table["label"].tolist() == [1.0, 0.75] and table["margin"].dtype == np.float64


def test_implicit_prompt_strings_are_split_at_a_word_or_assistant_turn():
    dialogue = "\n\nHuman: Hi\n\nAssistant: "
    table = normalize_preferences({"chosen": ["The sky is blue.", dialogue + "Hello"],
                                   "rejected": ["The sky is green.", dialogue + "Help"]})
    assert table[TEXT].values.tolist() == [["The sky is", "blue.", "green."],
                                           ["Human: Hi", "Hello", "Help"]]
    # the cut is a word boundary of both texts: never inside a word of either answer
    table = normalize_preferences({"chosen": ["The sky is blue", "The sky is blue"],
                                   "rejected": ["The sky is bluer", "The sky isn't blue"]})
    assert table[TEXT].values.tolist() == [["The sky is", "blue", "bluer"],
                                           ["The sky", "is blue", "isn't blue"]]


def test_conversations_render_plainly_and_keep_the_final_assistant_turn():
    prompt = [{"role": "system", "content": "Be brief."}, user("Hi"), assistant("Hello."),
              user("Tell me a joke.")]
    chosen, rejected = [assistant("Knock knock.")], [assistant("No.")]
    explicit = normalize_preferences({"prompt": [prompt], "chosen": [chosen],
                                      "rejected": [rejected]})
    implicit = normalize_preferences({"chosen": [prompt + chosen], "rejected": [prompt + rejected]})
    expected = ["System: Be brief.\n\nHuman: Hi\n\nAssistant: Hello.\n\nHuman: Tell me a joke.",
                "Knock knock.", "No."]
    assert explicit[TEXT].values.tolist() == [expected]
    assert implicit[TEXT].values.tolist() == [expected]
    # multi-turn answers: the reply's own marker is dropped, later turns keep theirs
    long = [assistant("A."), user("And?"), assistant("B.")]
    table = normalize_preferences({"prompt": [[user("Q")]], "chosen": [long],
                                   "rejected": [[assistant("C.")]]})
    assert table.loc[0, "chosen"] == "A.\n\nHuman: And?\n\nAssistant: B."


def test_conversations_that_part_at_a_user_turn_split_at_the_assistant_turn_before():
    chosen = [user("Q"), assistant("A"), user("more"), assistant("B")]
    rejected = [user("Q"), assistant("A"), user("less"), assistant("C")]
    table = normalize_preferences({"chosen": [chosen], "rejected": [rejected]})
    assert table.loc[0, "prompt"] == "Human: Q"
    assert table.loc[0, "chosen"] == "A\n\nHuman: more\n\nAssistant: B"


def test_a_chat_template_renders_the_prompt_with_the_generation_prompt():
    class Tokenizer:  # the two attributes the rendering reads, as a transformers tokenizer has
        chat_template = "template"

        def apply_chat_template(self, messages, tokenize, add_generation_prompt=False):
            text = "".join(f"<{m['role']}>{m['content']}</s>" for m in messages)
            return text + ("<assistant>" if add_generation_prompt else "")

    table = normalize_preferences({"prompt": [[user("Hi")]], "chosen": [[assistant("Yo")]],
                                   "rejected": [[assistant("No")]]}, tokenizer=Tokenizer())
    assert table[TEXT].values.tolist() == [["<user>Hi</s><assistant>", "Yo</s>", "No</s>"]]
    assert render_conversation([user("Hi")], tokenizer=Tokenizer()) == "<user>Hi</s>"


def test_unpaired_feedback_becomes_items_with_boolean_labels():
    data = datasets.Dataset.from_dict({"prompt": [[user("Hi")], [user("Hi")]],
                                       "completion": [[assistant("Hello!")], [assistant("Go.")]],
                                       "label": [True, False]})
    table = normalize_preferences(data)
    assert table.attrs["kind"] == "items"
    assert table.values.tolist() == [["Human: Hi", "Hello!", True], ["Human: Hi", "Go.", False]]
    y, params = preference_targets(data)
    assert y.tolist() == [True, False] and params == {}


def test_files_in_jsonl_gz_and_parquet_load_to_the_same_table(tmp_path):
    rows = [{"prompt": [user("2+2?")], "chosen": [assistant("4")], "rejected": [assistant("5")],
             "margin": 1.0},
            {"prompt": [user("Hi")], "chosen": [assistant("Hello")], "rejected": [assistant("No")],
             "margin": 0.0}]
    jsonl = tmp_path / "prefs.jsonl.gz"
    with gzip.open(jsonl, "wt", encoding="utf-8") as f:
        f.write("\n".join(json.dumps(r) for r in rows))
    parquet = tmp_path / "prefs.parquet"
    datasets.Dataset.from_list(rows).to_parquet(parquet)
    expected = pd.DataFrame({"prompt": ["Human: 2+2?", "Human: Hi"], "chosen": ["4", "Hello"],
                             "rejected": ["5", "No"], "margin": [1.0, 0.0]})
    for path in (jsonl, parquet):
        pd.testing.assert_frame_equal(load_preferences(path), expected)
    with pytest.raises(ValueError, match="is not a file"):
        load_preferences(tmp_path / "missing.parquet")


def test_text_front_ends_accept_datasets_and_conversations_directly():
    strings = {"prompt": ["Hi", "Hi"], "chosen": ["Hello, how can I help?", "Hello there!"],
               "rejected": ["Go away.", "What do you want?"]}
    conversations = datasets.Dataset.from_dict({
        "prompt": [[user("Hi")]] * 2,
        "chosen": [[assistant(t)] for t in strings["chosen"]],
        "rejected": [[assistant(t)] for t in strings["rejected"]]})
    vectorizer = TextVectorizer(TfidfVectorizer()).fit(strings)
    np.testing.assert_array_equal(vectorizer.transform(conversations),
                                  vectorizer.transform(strings))
    with pytest.raises(ValueError, match="one split"):
        TextVectorizer(TfidfVectorizer()).fit(datasets.DatasetDict({"train": conversations}))


def test_training_signals_reach_the_reward_model_through_a_pipeline():
    rng = np.random.default_rng(0)
    words = ["good", "fine", "great", "bad", "poor", "awful", "ok", "nice"]
    n = 40
    data = pd.DataFrame({
        "prompt": ["Q"] * n,
        "chosen": [" ".join(rng.choice(words[:3], 3)) for _ in range(n)],
        "rejected": [" ".join(rng.choice(words[3:], 3)) for _ in range(n)],
        "label": rng.uniform(0.5, 1, n), "weight": rng.uniform(0, 2, n),
        "margin": rng.uniform(0, 1, n)})
    y, params = preference_targets(data)
    assert set(params) == {"sample_weight", "margin"}
    net = dict(module__hidden_sizes=(4,), max_epochs=5, lr=0.05, validation_fraction=None,
               random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(TextVectorizer(TfidfVectorizer()),
                             BTRegressor(**net).set_fit_request(sample_weight=True, margin=True))
        pipe.fit(data, y, **params)
    X = pipe[0].transform(data)
    by_hand = BTRegressor(**net).fit(X, y, **params)
    np.testing.assert_allclose(pipe[-1].decision_function(X[:, 0]),
                               by_hand.decision_function(X[:, 0]), rtol=1e-4)
    plain = BTRegressor(**net).fit(X, y)  # the signals changed the fit
    change = plain.decision_function(X[:, 0]) - by_hand.decision_function(X[:, 0])
    assert np.abs(change).max() > 1e-3


BAD = [
    ({"prompt": [[{"content": "Hi"}]], "chosen": [[assistant("a")]],
      "rejected": [[assistant("b")]]}, r"'prompt' at row 0: message 0 has no role"),
    ({"prompt": [[user("Hi")]], "chosen": [[assistant("a")]],
      "rejected": [[assistant("b")], [{"role": "assistant"}]][1:]},
     r"'rejected' at row 0: message 0 has no content"),
    ({"chosen": [[user("Hi"), {"role": "robot", "content": "a"}]],
      "rejected": [[user("Hi"), assistant("b")]]}, r"'chosen' at row 0: message 1 has the unknown "
                                                   r"role 'robot'"),
    ({"prompt": [[user("Hi")], [user(" ")]], "chosen": [[assistant("a")]] * 2,
      "rejected": [[assistant("b")]] * 2}, r"'prompt' at row 1: message 0 \(user\) has empty "
                                           r"content"),
    ({"chosen": ["Yes, sure.", "Sunny."], "rejected": ["Yes, no.", "Rainy."]},
     r"'chosen' and 'rejected' at row 1 share no prompt"),
    ({"chosen": [[user("A"), assistant("a")]], "rejected": [[user("B"), assistant("b")]]},
     r"'chosen' and 'rejected' at row 0 share no prompt"),
    ({"prompt": ["p", "p"], "completion": ["a", "b"], "label": [True, "yes"]},
     r"non-boolean label 'yes' at row 1"),
    ({**{c: ["p", "q"] for c in TEXT}, "margin": [1.0, float("nan")]},
     r"'margin' must be finite and non-negative; comparison \(row\) 1 has nan"),
    ({**{c: ["p", "q"] for c in TEXT}, "margin": [-0.5, 1.0]},
     r"'margin' must be finite and non-negative; comparison \(row\) 0 has -0.5"),
    ({**{c: ["p", "q"] for c in TEXT}, "weight": [1.0, -1.0]}, r"'weight' at row 1 is -1.0"),
    ({**{c: ["p", "q"] for c in TEXT}, "label": [0.5, 1.2]},
     r"'label' at row 1 is 1.2; a soft label is the probability in \[0, 1\]"),
    ({**{c: ["p", "q"] for c in TEXT}, "label": [float("nan"), 1]}, r"'label' at row 0 is nan"),
    ({"messages": [[user("Hi")]]}, r"one of TRL's formats"),
]


@pytest.mark.parametrize("data, message", BAD)
def test_bad_preferences_are_refused_naming_the_field_and_row(data, message):
    with pytest.raises(ValueError, match=message):
        normalize_preferences(data)


def test_front_ends_report_the_normaliser_errors():
    bad = {"prompt": [[user("Hi")]], "chosen": [[{"role": "bot", "content": "a"}]],
           "rejected": [[assistant("b")]]}
    with pytest.raises(ValueError, match="'chosen' at row 0: message 0 has the unknown role"):
        TextVectorizer(TfidfVectorizer()).fit(bad)
    with pytest.raises(ValueError, match="load_preferences"):
        normalize_preferences("prefs.jsonl")
