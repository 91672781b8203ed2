"""What a generation backend takes and gives: requests in, generations and stats out,
as plain typed records that every layer may use (the prompts build requests, the stages
read generations). Nothing here imports torch, transformers or vLLM: the vLLM worker
runs it in its own environment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from contrastgen.codec import JsonRecord


@dataclass(frozen=True)
class GenParams(JsonRecord):
    max_new_tokens: int = 96
    do_sample: bool = True
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int = 0
    samples_per_prompt: int = 1
    # Benchmarks set this to max_new_tokens so every row decodes the same number of tokens.
    min_new_tokens: int | None = None


@dataclass(frozen=True)
class Request(JsonRecord):
    """One prompt: chat messages, the text the answer is pre-filled with, its own budget
    of new tokens (None: GenParams.max_new_tokens; never more than that), and the texts
    that end its rows (see `stop_marks`; empty: rows run to end of turn or their budget)."""

    messages: tuple[dict[str, str], ...]
    prefill: str = ""
    max_new_tokens: int | None = None
    stops: tuple[str, ...] = ()

    def budget(self, params: GenParams) -> int:
        if self.max_new_tokens is None:
            return params.max_new_tokens
        return min(self.max_new_tokens, params.max_new_tokens)


@dataclass
class Generation(JsonRecord):
    text: str  # up to, not including, the end-of-turn token or a stop mark
    new_tokens: int  # generated tokens of this row, padding excluded, EOS included
    # False when the row ran out of new tokens before its end of turn or a stop mark: its
    # last line is cut off mid-sentence and must not be judged as a candidate.
    finished: bool = True


@dataclass
class Metrics:
    prompts: int = 0
    rows: int = 0
    generated_tokens: int = 0
    padded_tokens: int = 0  # prompt padding plus post-EOS filler, i.e. wasted positions
    batches: int = 0
    oom_splits: int = 0
    generate_s: float = 0.0
    load_s: float = 0.0  # model loading done inside this call (vLLM loads on first use)
    retries: int = 0  # requests sent again after a busy or unreachable server (openai)

    def add_call(self, prompts: int, rows: Sequence[Generation], padded_tokens: int = 0) -> None:
        """Count one generate call of `prompts` prompts that gave `rows`."""
        self.batches += 1
        self.prompts += prompts
        self.rows += len(rows)
        self.generated_tokens += sum(r.new_tokens for r in rows)
        self.padded_tokens += padded_tokens

    def to_json(self) -> dict:
        d = asdict(self)
        d["tokens_per_s"] = self.generated_tokens / self.generate_s if self.generate_s else 0.0
        d["instructions_per_s"] = self.prompts / self.generate_s if self.generate_s else 0.0
        return d


# Called with the input indices of finished requests and their generations.
OnDone = Callable[[list[int], list[list[Generation]]], None]
# Called with (requests finished, tokens they generated).
OnProgress = Callable[[int, int], None]


def stop_marks(tag: str | None) -> tuple[str, ...]:
    """Text that ends an answer row: a blank line (the answer format has none; what
    follows one is commentary or a repetition loop that would hold the whole batch), and
    a new line starting with `tag` (three letters are enough: "NEG")."""
    return ("\n\n", "\n" + tag[:3]) if tag else ("\n\n",)


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """`text` up to its first stop mark, and whether it had one."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[: min(hits)], True) if hits else (text, False)


def render_chat(tokenizer, messages: Sequence[dict[str, str]], prefill: str) -> str:
    """The full prompt text: the tokenizer's chat template plus the pre-filled first tag."""
    messages = list(messages)
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:  # base models: a plain transcript in the same shape
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
    return text + prefill
