"""LLMEmbedder on a tiny randomly initialised Llama saved to a temporary folder (no downloads)."""

import pickle
import sqlite3

import datasets
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
from transformers import (AutoModel, AutoTokenizer, LlamaConfig, LlamaForCausalLM,
                          PreTrainedTokenizerFast)

from skreward import EmbeddingCache, LLMEmbedder, OrderConsistentClassifier
from skreward.text import render_conversation
from skreward.utils.estimator_checks import parametrize_with_checks

TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% endif %}")
TRIPLES = {"prompt": ["How do I bake bread?", "Human: Hi\n\nAssistant: Hello\n\nHuman: Bye?"],
           "chosen": ["Mix flour, water, yeast; knead; bake.", "Goodbye!"],
           "rejected": ["No.", "Go away, I am busy with something much more important."]}
HIDDEN = 32


def char_tokenizer(chat_template=TEMPLATE):
    """A character-level tokenizer built offline: BOS added, EOS, pad, a chat template."""
    chars = [chr(i) for i in range(32, 127)] + ["\n"]
    vocab = {t: i for i, t in enumerate(["<pad>", "<s>", "</s>", "<unk>"] + chars)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.post_processor = processors.TemplateProcessing(  # BOS first, as Llama's
        single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>",
                                        eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    tokenizer.chat_template = chat_template
    return tokenizer


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A causal LM and its tokenizer, saved as ``save_pretrained`` writes them."""
    path = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = char_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, pad_token_id=0, bos_token_id=1,
                         eos_token_id=2)
    with torch.random.fork_rng():  # seeded, leaving torch's global generator as it was
        torch.manual_seed(0)
        LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def loaded(folder):
    return AutoModel.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


def reference(loaded, text, *, special_tokens=False, pooling="last"):
    """The embedding by hand: one unpadded forward pass of the text alone."""
    model, tokenizer = loaded
    ids = tokenizer(text, add_special_tokens=special_tokens, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        states = model(input_ids=ids).last_hidden_state[0]
    return (states[-1] if pooling == "last" else states.mean(0)).numpy()


def test_shapes_and_the_chosen_response_first(folder):
    embedder = LLMEmbedder(folder)
    X = embedder.transform(TRIPLES)
    assert X.shape == (2, 2, HIDDEN) and X.dtype == np.float32
    items = embedder.fit_transform({"prompt": TRIPLES["prompt"], "response": TRIPLES["chosen"]})
    np.testing.assert_allclose(items, X[:, 0], atol=1e-5)
    assert np.abs(X[:, 0] - X[:, 1]).max() > 1e-3


def test_reads_the_last_token_of_the_chat_template(folder, loaded):
    X = LLMEmbedder(folder, batch_size=4).transform(TRIPLES)
    for i in range(2):
        for j, answer in enumerate(("chosen", "rejected")):
            text = loaded[1].apply_chat_template(
                [{"role": "user", "content": TRIPLES["prompt"][i]},
                 {"role": "assistant", "content": TRIPLES[answer][i]}], tokenize=False)
            assert text.endswith(TRIPLES[answer][i] + "</s>")
            np.testing.assert_allclose(X[i, j], reference(loaded, text), atol=1e-5)


def test_plain_rendering_without_a_template(folder, loaded):
    X = LLMEmbedder(folder, chat_template="plain").transform(TRIPLES)
    text = TRIPLES["prompt"][1] + "\n\nAssistant: " + TRIPLES["rejected"][1]
    np.testing.assert_allclose(X[1, 1], reference(loaded, text, special_tokens=True), atol=1e-5)
    untemplated = char_tokenizer(chat_template=None)  # "auto" falls back to the plain text
    Y = LLMEmbedder(loaded[0], tokenizer=untemplated).transform(TRIPLES)
    np.testing.assert_allclose(Y, X, atol=1e-5)


def test_plain_rendering_of_a_conversation_is_render_conversation(folder, loaded):
    prompt = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
              {"role": "user", "content": "Bye?"}]
    reply = [{"role": "assistant", "content": "Goodbye!"}]
    X = LLMEmbedder(folder, chat_template="plain").transform(
        {"prompt": [prompt], "response": [reply]})
    text = render_conversation(prompt + reply)
    assert text.endswith("Human: Bye?\n\nAssistant: Goodbye!")
    np.testing.assert_allclose(X[0], reference(loaded, text, special_tokens=True), atol=1e-5)


def test_mean_pooling_averages_every_token(folder, loaded):
    X = LLMEmbedder(folder, pooling="mean", batch_size=3).transform(TRIPLES)
    text = loaded[1].apply_chat_template(
        [{"role": "user", "content": TRIPLES["prompt"][0]},
         {"role": "assistant", "content": TRIPLES["rejected"][0]}], tokenize=False)
    np.testing.assert_allclose(X[0, 1], reference(loaded, text, pooling="mean"), atol=1e-5)
    assert np.abs(X - LLMEmbedder(folder).transform(TRIPLES)).max() > 1e-3


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_padding_side_and_batching_do_not_change_the_embedding(loaded, pooling):
    model, tokenizer = loaded
    left, right = char_tokenizer(), char_tokenizer()
    left.padding_side, right.padding_side = "left", "right"
    one = LLMEmbedder(model, tokenizer=right, batch_size=1, pooling=pooling).transform(TRIPLES)
    for tok in (left, right):
        padded = LLMEmbedder(model, tokenizer=tok, batch_size=4, pooling=pooling)
        np.testing.assert_allclose(padded.transform(TRIPLES), one, atol=1e-5)
    assert left.padding_side == "left"  # the user's tokenizer is left as it was


def test_deterministic_and_the_user_model_is_left_as_it_was(folder, loaded):
    model, tokenizer = loaded
    model.train()  # dropout would make the embedding random: it is read in eval mode
    try:
        first = LLMEmbedder(model, tokenizer=tokenizer).transform(TRIPLES)
        assert model.training
    finally:
        model.eval()
    np.testing.assert_array_equal(LLMEmbedder(model, tokenizer=tokenizer).transform(TRIPLES),
                                  first)
    copy = clone(LLMEmbedder(model, tokenizer=tokenizer))  # deep copies of both objects
    assert copy.model is not model
    np.testing.assert_array_equal(copy.transform(TRIPLES), first)
    np.testing.assert_allclose(LLMEmbedder(folder).transform(TRIPLES), first, atol=1e-6)


def test_a_long_text_keeps_its_end(folder, loaded):
    ending = "Human: and what is the very last question that I would like to ask you?"
    prompts = ["x" * 300 + ending, "y" * 500 + ending]
    items = {"prompt": prompts, "response": ["Answer.", "Answer."]}
    X = LLMEmbedder(folder, max_length=64, chat_template="plain").transform(items)
    np.testing.assert_allclose(X[0], X[1], atol=1e-5)  # the same last 63 tokens after BOS
    full = LLMEmbedder(folder, chat_template="plain").transform(items)
    assert np.abs(full[0] - full[1]).max() > 1e-4
    text = "<s>" + (prompts[0] + "\n\nAssistant: Answer.")[-63:]
    np.testing.assert_allclose(X[0], reference(loaded, text), atol=1e-5)


def test_cache_embeds_each_text_once_keyed_by_model_and_settings(folder, tmp_path):
    first = LLMEmbedder(folder, cache=tmp_path).transform(TRIPLES)
    with sqlite3.connect(tmp_path / "embeddings.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM entries").fetchone() == (4,)
    again = LLMEmbedder(folder, cache=str(tmp_path))
    again._encode = None  # a hit for every text: the model is never run
    np.testing.assert_array_equal(again.transform(TRIPLES), first)
    LLMEmbedder(folder, cache=tmp_path, pooling="mean").transform(TRIPLES)
    with sqlite3.connect(tmp_path / "embeddings.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM entries").fetchone() == (8,)
    namespace = LLMEmbedder(folder)._namespace()
    assert "pooling=last" in namespace and "dtype=torch.float32" in namespace


def test_torch_dtype_loads_the_weights_in_that_dtype(folder):
    auto = LLMEmbedder(folder, device="cpu")  # "auto" on a CPU: float32
    half = LLMEmbedder(folder, device="cpu", torch_dtype="bfloat16")
    X, Y = auto.transform(TRIPLES), half.transform(TRIPLES)
    assert next(half._load()[0].parameters()).dtype == torch.bfloat16
    assert Y.dtype == np.float32 and "dtype=torch.bfloat16" in half._namespace()
    assert "dtype=torch.float32" in auto._namespace()
    np.testing.assert_allclose(Y, X, atol=0.15)  # bfloat16 keeps about 3 digits


def test_a_loaded_model_is_fingerprinted_by_its_weights(loaded):
    model, tokenizer = loaded
    cache = EmbeddingCache()
    embedder = LLMEmbedder(model, tokenizer=tokenizer, cache=cache)
    X = embedder.transform(TRIPLES)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        other = AutoModel.from_config(model.config)
    Y = LLMEmbedder(other, tokenizer=tokenizer, cache=cache).transform(TRIPLES)
    assert np.abs(X - Y).max() > 1e-3  # other weights: other entries, not the cached ones
    assert LLMEmbedder(other, tokenizer=tokenizer)._namespace() != embedder._namespace()


def test_clone_pickle_and_pipeline(folder):
    embedder = LLMEmbedder(folder, cache=EmbeddingCache())
    X = embedder.transform(TRIPLES)
    assert "_memos" not in clone(embedder).__dict__
    blob = pickle.dumps(embedder)
    assert len(blob) < 10_000  # the loaded model is not pickled
    np.testing.assert_array_equal(pickle.loads(blob).transform(TRIPLES), X)
    model = make_pipeline(clone(embedder), OrderConsistentClassifier(LogisticRegression()))
    model.fit(TRIPLES)
    assert model.decision_function({"prompt": ["Hi"], "response": ["Hello"]}).shape == (1,)


def test_progress_bar_only_when_asked(folder, capsys):
    LLMEmbedder(folder).transform(TRIPLES)
    assert "Embedding" not in capsys.readouterr().err
    LLMEmbedder(folder, show_progress_bar=True).transform(TRIPLES)
    assert "Embedding: 100%" in capsys.readouterr().err


def test_errors_name_what_to_pass(folder, loaded, tmp_path):
    items = {"prompt": ["Hi"], "response": ["Hello"]}
    with pytest.raises(ValueError, match="tokenizer must be given with a loaded model"):
        LLMEmbedder(loaded[0]).transform(items)
    with pytest.raises(ValueError, match=r"model=.*no-model.*could not be loaded.*nothing is "
                                         "downloaded"):
        LLMEmbedder(tmp_path / "no-model").transform(items)
    with pytest.raises(ValueError, match="pooling"):
        LLMEmbedder(folder, pooling="max").fit(items)
    with pytest.raises(ValueError, match=r"X\['response'\] has an empty string at row 0"):
        LLMEmbedder(folder).fit({"prompt": ["Hi"], "response": [" "]})


def tiny_model():
    tokenizer = char_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=8, intermediate_size=16,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=128)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return AutoModel.from_config(config), tokenizer


LOADED_OBJECTS = {
    "check_clone_keeps_params": "clone deep-copies a loaded model and tokenizer (as "
                                "scikit-learn does every parameter that is not an estimator), "
                                "and a torch module or a tokenizer compares equal only to "
                                "itself; test_clone_pickle_and_pipeline checks the copy",
}


@parametrize_with_checks([LLMEmbedder(tiny_model()[0], tokenizer=tiny_model()[1])],
                         expected_failed_checks=lambda estimator: LOADED_OBJECTS)
def test_estimator_checks(estimator, check):
    check(estimator)


def test_trl_formats_give_the_embedding_of_their_plain_text(folder):
    plain = {"prompt": ["Human: How do I bake bread?"],
             "chosen": ["Mix flour, water, yeast; knead; bake."], "rejected": ["No."]}
    conversational = {
        "prompt": [[{"role": "user", "content": "How do I bake bread?"}]],
        "chosen": [[{"role": "assistant", "content": "Mix flour, water, yeast; knead; bake."}]],
        "rejected": [[{"role": "assistant", "content": "No."}]]}
    implicit = datasets.Dataset.from_dict({
        "chosen": ["Human: How do I bake bread?\n\nAssistant: Mix flour, water, yeast; knead; "
                   "bake."],
        "rejected": ["Human: How do I bake bread?\n\nAssistant: No."]})
    embedder = LLMEmbedder(folder)
    X = embedder.transform(plain)
    np.testing.assert_array_equal(embedder.transform(conversational), X)
    np.testing.assert_array_equal(embedder.fit(implicit).transform(implicit), X)
    with pytest.raises(ValueError, match="'chosen' at row 0: message 0 has the unknown role"):
        embedder.transform({**conversational, "chosen": [[{"role": "bot", "content": "Hi"}]]})
