"""The openai backend for real: a client of vLLM's own OpenAI-compatible server, started
from the vLLM environment with the embedded model on 127.0.0.1 (one start, ~30 s, serves
the session's server tests). No mock stands in for the server."""

import json
import re
import time
import urllib.request

import pytest
from config_defaults import SETTINGS
from vllm_servers import free_port, served_requests

from contrastgen.backends import cache_identity, make_backend
from contrastgen.backends.openai_backend import ServerError
from contrastgen.candidates.prompts import build_messages, parse_output
from contrastgen.errors import ConfigError
from contrastgen.generation import GenParams, Request, stop_marks
from contrastgen.settings import GeneratorSettings

INSTRUCTIONS = [
    "Turn to your 4 o'clock and go straight until you see the red roof house.",
    "head east and you will see a small white tent near the road",
    "go back to the parking lot and land on the grey building on its left side",
    "fly north over the river, the goal is the blue car park",
]
PARAMS = GenParams(max_new_tokens=96, temperature=0.4, top_p=0.95, samples_per_prompt=2, seed=7)
GREEDY = GenParams(max_new_tokens=48, do_sample=False, seed=7)


def requests(budget=None, tag="NEGATIVE"):
    return [
        Request(tuple(build_messages(text)), "POSITIVE:", budget, stop_marks(tag))
        for text in INSTRUCTIONS
    ]


GENERATION = SETTINGS.generation.but(
    max_new_tokens=96, temperature=0.4, top_p=0.95, seed=1, samples_per_prompt=3
)


def settings(generator: dict, **server) -> GeneratorSettings:
    return GeneratorSettings.from_config(generator).but(server=server)


def backend_for(generator, **server):
    return make_backend(settings(generator, **server), GENERATION)


def test_answers_come_back_in_order_checkpointed_per_prompt_with_the_servers_usage(
    vllm_server,
):
    server, generator = vllm_server
    backend = backend_for(generator, max_concurrency=8)
    before = served_requests(server.base_url)
    done, ticks = [], []
    out, metrics = backend.generate(
        requests(), PARAMS, lambda i, g: done.append((i, g)), lambda n, t: ticks.append((n, t))
    )
    assert [len(gens) for gens in out] == [2] * 4
    assert sorted(i for batch, _ in done for i in batch) == [0, 1, 2, 3]  # once each
    assert sum(n for n, _ in ticks) == 4
    # one HTTP request per row, each counted by the server itself
    assert served_requests(server.base_url) - before == 8 == metrics.batches
    assert metrics.rows == 8 and metrics.retries == 0
    assert metrics.generated_tokens == sum(g.new_tokens for gens in out for g in gens) > 0
    for gens in out:
        for g in gens:
            # the pre-filled tag was honoured: the model continued it, never wrote it again
            assert not g.text.lstrip().startswith("POSITIVE"), g.text
            assert "\n\n" not in g.text and "\nNEG" not in g.text  # stop marks
            assert len(re.findall(r"[A-Za-z]+", g.text)) >= 3, g.text
    parsed = [parse_output(g.text, "POSITIVE:", g.finished)[0] for gens in out for g in gens]
    assert sum(len(p) for p in parsed) >= 4


def test_completions_and_chat_render_the_same_prompt(vllm_server):
    """completions renders the chat template here; chat lets the server render it and
    continue the final assistant message: the server's own tokenizer (its /tokenize,
    which takes either form) gets the same token ids from both. Compared as tokens, not
    as greedy answers: a cold and a prefix-cached prefill can flip a near tie."""
    server, generator = vllm_server
    completions = backend_for(generator, api="completions")
    chat = backend_for(generator, api="chat")
    root = server.base_url.removesuffix("/v1")
    for request in requests():
        path, body = completions.request_body(request, GREEDY)
        assert path == "/completions"
        rendered = tokenize(root, {"model": body["model"], "prompt": body["prompt"]})
        path, body = chat.request_body(request, GREEDY)
        assert path == "/chat/completions"
        assert body["messages"][-1] == {"role": "assistant", "content": "POSITIVE:"}
        keys = ("model", "messages", "continue_final_message", "add_generation_prompt")
        assert rendered == tokenize(root, {k: body[k] for k in keys})
        assert len(rendered) > 100  # the whole prompt: system, few-shot turns, answer
    out, _ = chat.generate(requests(), GREEDY)  # and the chat endpoint answers them
    assert all(gens[0].text.strip() and gens[0].new_tokens > 0 for gens in out)


def tokenize(root: str, body: dict) -> list[int]:
    req = urllib.request.Request(
        f"{root}/tokenize", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as answer:
        return json.loads(answer.read())["tokens"]


def test_budgets_and_fixed_length(vllm_server):
    _, generator = vllm_server
    backend = backend_for(generator)
    out, _ = backend.generate(requests(budget=6, tag=None), PARAMS)
    rows = [g for gens in out for g in gens]
    assert all(g.new_tokens <= 6 for g in rows)
    assert any(not g.finished for g in rows)  # cut off by its budget, said so
    fixed = GenParams(max_new_tokens=24, do_sample=False, min_new_tokens=24)
    out, metrics = backend.generate(requests(tag=None)[:2], fixed)
    assert [g[0].new_tokens for g in out] == [24, 24]
    assert metrics.generated_tokens == 48


def test_a_model_the_server_does_not_serve_is_named(vllm_server):
    _, generator = vllm_server
    with pytest.raises(ConfigError, match=r"generator.server.model: .* serves \['smollm2'\]"):
        backend_for(generator, model="mixtral")


def test_an_unreachable_server_is_retried_then_named(vllm_server):
    """A real refused connection (nothing listens on the port): retried with backoff,
    then one error naming the server and its last answer."""
    _, generator = vllm_server
    port = free_port()
    started = time.monotonic()
    with pytest.raises(ServerError) as err:
        backend_for(
            generator, base_url=f"http://127.0.0.1:{port}/v1", retries=3, retry_backoff_s=0.05
        )
    message = str(err.value)
    assert f"http://127.0.0.1:{port}/v1" in message and "after 4 tries" in message
    assert "refused" in message.lower() and "\n" not in message
    assert time.monotonic() - started < 10


def test_the_api_key_comes_from_the_named_variable(vllm_server, monkeypatch):
    _, generator = vllm_server
    monkeypatch.delenv("CONTRASTGEN_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="CONTRASTGEN_TEST_KEY is not set"):
        backend_for(generator, api_key_env="CONTRASTGEN_TEST_KEY")
    monkeypatch.setenv("CONTRASTGEN_TEST_KEY", "secret")  # the server takes any key
    backend = backend_for(generator, api_key_env="CONTRASTGEN_TEST_KEY")
    assert backend.headers["Authorization"] == "Bearer secret"


def test_the_cache_key_names_the_servers_model_not_its_url(vllm_server):
    _, generator = vllm_server

    def identity(**server):
        return cache_identity(settings(generator, **server), GENERATION)

    assert identity() == identity(base_url="http://gpu-node-7:8000/v1", max_concurrency=4)
    assert identity()["model"] == "smollm2"
    assert identity() != identity(model="mixtral")
    assert identity() != identity(api="chat")
    assert identity() != cache_identity(settings(generator), GENERATION.but(temperature=0.8))
