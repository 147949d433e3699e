"""The reward server: a real server process on a free loopback port, and the app in-process."""

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skreward import OrderConsistentClassifier, TextVectorizer, save
from skreward.serve import create_app

TOKEN = "test-token-123"
TRIPLES = {
    "prompt": ["Hi", "Help me", "Hello", "Bye", "Thanks", "Question"],
    "chosen": ["Hello! How can I help you today?", "Sure, I am happy to help you.",
               "Hello, how can I help?", "Goodbye, take care of yourself!",
               "You are welcome, glad to help!", "Good question, here is an answer."],
    "rejected": ["No.", "Go away.", "No.", "Whatever.", "Hm.", "Don't know."],
}


@pytest.fixture(scope="module")
def model():
    return make_pipeline(TextVectorizer(TfidfVectorizer()),
                         OrderConsistentClassifier(LogisticRegression())).fit(TRIPLES)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(model, tmp_path_factory):
    """``skreward serve`` in its own process on a free loopback port, killed afterwards."""
    path = tmp_path_factory.mktemp("serve") / "model.skops"
    save(model, path)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "skreward", "serve", str(path), "--port", str(port),
         "--token", TOKEN, "--max-batch", "8", "--max-body-bytes", "2000"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {process.stdout.read().decode()}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 120 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _auth():
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.slow
def test_openrlhf_request_gives_in_process_rewards(server, model):
    prompts = ["Hi", "Bye", "How are you?"]
    responses = [" Hello! How can I help?", " Go away.", " Fine, thanks for asking!"]
    body = {"query": [p + r for p, r in zip(prompts, responses)], "prompts": prompts,
            "labels": ["", "", ""]}  # OpenRLHF also sends labels: ignored
    answer = httpx.post(f"{server}/get_reward", json=body, headers=_auth(), timeout=30)
    assert answer.status_code == 200, answer.text
    expected = model.decision_function({"prompt": prompts, "response": responses})
    np.testing.assert_array_equal(answer.json()["rewards"], expected)
    assert answer.json()["scores"] == answer.json()["rewards"]


@pytest.mark.slow
def test_token_is_enforced(server):
    body = {"query": ["Hi Hello"], "prompts": ["Hi"]}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        answer = httpx.post(f"{server}/get_reward", json=body, headers=headers, timeout=30)
        assert answer.status_code == 401
        assert "bearer token" in answer.json()["detail"]
        assert answer.headers["www-authenticate"] == "Bearer"
    assert httpx.post(f"{server}/get_reward", json=body, headers=_auth(),
                      timeout=30).status_code == 200
    assert httpx.get(f"{server}/health", timeout=30).json()["status"] == "ok"


@pytest.mark.slow
def test_limits_answer_413_and_422_with_messages(server):
    def post(**kwargs):
        return httpx.post(f"{server}/get_reward", timeout=30,
                          headers={**_auth(), **kwargs.pop("headers", {})}, **kwargs)

    too_many = post(json={"query": ["Hi a"] * 9, "prompts": ["Hi"] * 9})
    assert too_many.status_code == 413
    assert "at most 8 per request" in too_many.json()["detail"]
    too_big = post(json={"query": ["x" * 3000], "prompts": ["x"]})
    assert too_big.status_code == 413
    assert "--max-body-bytes" in too_big.json()["detail"]
    wrong_type = post(json={"query": "Hi there", "prompts": ["Hi"]})
    assert wrong_type.status_code == 422
    assert "'query' must be a list of strings" in wrong_type.json()["detail"]
    mismatch = post(json={"query": ["Hi a", "Hi b"], "prompts": ["Hi"]})
    assert mismatch.status_code == 422
    assert "one prompt per query" in mismatch.json()["detail"]
    malformed = post(content=b'{"query": [', headers={"content-type": "application/json"})
    assert malformed.status_code == 400
    assert "malformed JSON" in malformed.json()["detail"]
    # still serving after the faults
    assert post(json={"query": ["Hi Hello"], "prompts": ["Hi"]}).status_code == 200


# -- the app in-process (no port) ---------------------------------------------------------

@pytest.fixture
def client(model):
    with TestClient(create_app(model, max_batch=4, max_body_bytes=1000)) as client:
        yield client


@pytest.mark.parametrize("body, status, message", [
    ({"prompts": ["Hi"]}, 422, "must have 'query'"),
    ({"query": [1, 2]}, 422, r"'query\[0\]' must be a string"),
    ({"query": []}, 422, "at least one string"),
    ({"query": ["Hi a"], "prompts": ["Bye"]}, 422, "does not start with prompts"),
    ([1, 2], 422, "must be a JSON object"),
    ({"query": ["Hi a"] * 5, "prompts": ["Hi"] * 5}, 413, "at most 4 per request"),
])
def test_bad_requests_get_4xx_and_a_message(client, body, status, message):
    import re

    answer = client.post("/get_reward", content=json.dumps(body))
    assert answer.status_code == status
    assert re.search(message, answer.json()["detail"])


def test_json_nested_too_deeply_is_400(model):
    with TestClient(create_app(model)) as client:
        answer = client.post("/get_reward", content=b"[" * 100_000)
    assert answer.status_code == 400
    assert "nested too deeply" in answer.json()["detail"]


def test_model_refusal_is_422_and_the_batch_survives(client, model):
    # an empty response is refused by the text front end: that request alone fails
    answer = client.post("/get_reward", json={"query": ["Hi"], "prompts": ["Hi"]})
    assert answer.status_code == 422
    assert "response" in answer.json()["detail"]
    good = client.post("/get_reward", json={"query": ["Hi Hello!"], "prompts": ["Hi"]})
    assert good.status_code == 200
    np.testing.assert_array_equal(
        good.json()["rewards"],
        model.decision_function({"prompt": ["Hi"], "response": [" Hello!"]}))


def test_rerank_endpoint_matches_rerank(client, model):
    from skreward import rerank

    responses = ["No.", "Hello! How can I help you today?", "Whatever."]
    answer = client.post("/rerank", json={"prompt": "Hi", "responses": responses})
    assert answer.status_code == 200
    expected = rerank(model, "Hi", responses)
    assert answer.json()["best"] == expected.best == 1
    assert answer.json()["order"] == expected.order.tolist()
    assert answer.json()["uncertainty"] is None
    assert client.post("/rerank", json={"prompt": 3, "responses": ["a"]}).status_code == 422


def test_concurrent_requests_are_batched(model):
    import asyncio

    app = create_app(model)

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                answers = await asyncio.gather(*[
                    c.post("/get_reward", json={"query": [f"Hi Hello {i}"], "prompts": ["Hi"]})
                    for i in range(32)])
        return answers

    answers = asyncio.run(run())
    assert all(a.status_code == 200 for a in answers)
    batcher = app.state.batcher
    assert batcher.n_items == 32
    assert batcher.n_batches < 32  # some requests shared a forward pass
    expected = model.decision_function({"prompt": ["Hi"] * 32,
                                        "response": [f" Hello {i}" for i in range(32)]})
    np.testing.assert_array_equal([a.json()["rewards"][0] for a in answers], expected)


def test_ensemble_uncertainty_is_served():
    from skreward import RewardEnsemble

    ensemble = make_pipeline(
        TextVectorizer(TfidfVectorizer()),
        RewardEnsemble(OrderConsistentClassifier(LogisticRegression()), n_estimators=3,
                       bootstrap=True, random_state=0)).fit(TRIPLES)
    items = {"prompt": ["Hi", "Hi"], "response": [" Hello! How can I help?", " No."]}
    with TestClient(create_app(ensemble)) as client:
        answer = client.post("/get_reward", json={
            "query": [p + r for p, r in zip(items["prompt"], items["response"])],
            "prompts": items["prompt"]}).json()
        ranked = client.post("/rerank", json={"prompt": "Hi",
                                              "responses": items["response"]}).json()
    np.testing.assert_array_equal(answer["rewards"], ensemble.decision_function(items))
    expected_std = ensemble[-1].reward_std(ensemble[:-1].transform(items))
    np.testing.assert_array_equal(answer["uncertainty"], expected_std)
    assert max(expected_std) > 0
    np.testing.assert_array_equal(ranked["uncertainty"], expected_std)
