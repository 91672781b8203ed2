"""The protocol every generation backend follows, over the records of
contrastgen.generation.

A backend renders its own prompts (chat template plus the pre-filled first tag), generates
`samples_per_prompt` answers per request in input order, calls `on_done` as requests
finish (the per-item cache checkpoints there), and returns its statistics. Nothing here
imports torch, transformers or vLLM: the vLLM worker runs this module in its own
environment.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from contrastgen.generation import Generation, GenParams, Metrics, OnDone, OnProgress, Request

if TYPE_CHECKING:  # annotations only: the vLLM worker imports this module
    from contrastgen.settings import GenerationSettings, GeneratorSettings

# The transformers backend's batching strategies (generation.strategy), in the order the
# benchmark shows them; named here so that the benchmark and the schema test need not
# import the backend.
STRATEGIES = ("sequential", "fake_batch", "true_batch", "bucketed", "continuous")


class StrategyUnavailable(RuntimeError):
    """The strategy cannot run with the installed libraries; nothing else is run instead."""


class Backend(Protocol):
    """A loaded generator. `device`: cpu or cuda; `load_s`: seconds spent loading so far."""

    device: str
    load_s: float

    def generate(
        self,
        requests: Sequence[Request],
        params: GenParams,
        on_done: OnDone | None = None,
        progress: OnProgress | None = None,
    ) -> tuple[list[list[Generation]], Metrics]: ...

    def close(self) -> None: ...

    # Every backend is made the same way (backends.make_backend): from the run's settings,
    # the job's CPU threads and the GPUs it holds; each takes what it uses.
    @classmethod
    def from_settings(
        cls,
        generator: GeneratorSettings,
        generation: GenerationSettings,
        threads: int | None = None,
        gpus: int = 0,
    ) -> Backend: ...


@dataclass
class Progress:
    """A tqdm bar over requests that also shows generated tokens/s (goes to the rule log)."""

    total: int
    desc: str
    tokens: int = 0
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, desc=self.desc, unit="instr", mininterval=5.0)

    def __call__(self, done: int, tokens: int) -> None:
        self.tokens += tokens
        elapsed = max(1e-9, time.perf_counter() - self.started)
        self.bar.set_postfix(tok_s=f"{self.tokens / elapsed:.1f}", refresh=False)
        self.bar.update(done)

    def close(self) -> None:
        self.bar.close()
