"""The transformers backend: one loaded model, several batching strategies behind one interface.

Strategies take the same prompts and return one list of generations per prompt, in
input order, so the workflow picks one by name and the benchmark runs them side by side:

- sequential:  one `generate` call per prompt (the baseline);
- fake_batch:  prompts grouped into "batches" that are looped over inside (what the old
               pipeline did; kept only to show it is no faster);
- true_batch:  one left-padded `generate` call per batch of `batch_size` prompts;
- bucketed:    prompts sorted by length, batches bounded by a token budget
               (rows x (longest prompt + max_new_tokens)), so padding and memory are bounded;
- continuous:  transformers' own continuous batching (`generate_batch`), when present.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from contrastgen.backends.base import STRATEGIES, StrategyUnavailable
from contrastgen.compute import attention
from contrastgen.compute.devices import resolve_device, resolve_dtype, torch_dtype
from contrastgen.compute.planner import DEFAULT_BATCH_TOKENS, plan
from contrastgen.errors import ConfigError
from contrastgen.generation import (
    Generation,
    GenParams,
    Metrics,
    OnDone,
    OnProgress,
    Request,
    cut_at_stop,
    render_chat,
)
from contrastgen.settings import GenerationSettings, GeneratorSettings

log = logging.getLogger(__name__)


# Below this many shared tokens a prefix cache saves less than it costs to copy.
MIN_PREFIX_TOKENS = 16


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def split_on_oom(run: Callable[[list], list], items: list, on_split: Callable[[], None]) -> list:
    """Run `run(items)`; on out-of-memory, halve the batch and retry down to one item.

    Results keep the input order. A single item that still runs out of memory re-raises.
    """
    try:
        return run(items)
    except Exception as exc:  # torch.OutOfMemoryError, or a RuntimeError saying so
        if not _is_oom(exc) or len(items) == 1:
            raise
        on_split()
        _free_cuda_cache()
        half = len(items) // 2
        log.warning(
            "out of memory on a batch of %d; retrying as %d + %d",
            len(items),
            half,
            len(items) - half,
        )
        return split_on_oom(run, items[:half], on_split) + split_on_oom(run, items[half:], on_split)


def _free_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def quantization_config(quantization: str, device: str, dtype):
    """bitsandbytes settings for generator.quantization (8bit: LLM.int8, 4bit: NF4)."""
    if device != "cuda":
        raise ValueError(
            f"generator.quantization: {quantization} uses bitsandbytes, which needs a CUDA GPU; "
            f"this run is on {device}: set it to none"
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"generator.quantization: {quantization} needs bitsandbytes: pip install '.[gpu]'"
        ) from exc
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    if quantization == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
        )
    raise ValueError(f"generator.quantization must be none, 8bit or 4bit, not {quantization!r}")


def sampling_kwargs(params: GenParams) -> dict:
    """transformers' sampling arguments: temperature and top-p only when sampling."""
    if params.do_sample:
        return {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p}
    return {"do_sample": False, "temperature": None, "top_p": None}


class Engine:
    """A tokenizer and a causal LM, loaded once, with one padded `generate` primitive."""

    def __init__(
        self,
        model_dir: str | Path,
        device: str = "auto",
        dtype: str = "auto",
        threads: int | None = None,
        attn_implementation: str | None = None,
        prefix_cache: bool = True,
        quantization: str = "none",
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        if threads:
            torch.set_num_threads(threads)
        self.device = resolve_device(device)
        self.dtype = torch_dtype(resolve_dtype(dtype, self.device))
        self.model_dir = str(model_dir)
        # Never run code shipped with a checkpoint (and never stop to ask about it).
        self.tokenizer = AutoTokenizer.from_pretrained(
            self.model_dir, local_files_only=True, trust_remote_code=False
        )
        # Left padding: every row's last prompt token sits at the same position, so the
        # new tokens line up and rows do not attend to padding.
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        kwargs = self._load_kwargs(attn_implementation, quantization, batch_tokens)
        self.model = AutoModelForCausalLM.from_pretrained(self.model_dir, **kwargs).eval()
        if self.device == "cpu":
            self.model.to("cpu")
        self.stop_ids = self._stop_ids()
        self.prefix_cache = prefix_cache
        self._prefix: tuple[list[int], object] | None = None
        self.load_s = time.perf_counter() - started
        log.info(
            "loaded %s on %s (%s) in %.1fs", self.model_dir, self.device, self.dtype, self.load_s
        )

    def _load_kwargs(
        self, attn_implementation: str | None, quantization: str, batch_tokens: int
    ) -> dict:
        """from_pretrained's arguments: dtype, attention kernel, bitsandbytes, and on
        several GPUs the planner's device map."""
        import torch

        kwargs = {"dtype": self.dtype, "local_files_only": True, "trust_remote_code": False}
        if attn_implementation == attention.NAME:
            attention.register()
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        if quantization != "none":
            kwargs["quantization_config"] = quantization_config(
                quantization, self.device, self.dtype
            )
        if self.device == "cuda" and torch.cuda.device_count() > 1:
            # Model parallel over the job's GPUs: the planner's device map, not a guess.
            name = str(self.dtype).removeprefix("torch.")
            layout = plan(
                self.model_dir,
                gpus=torch.cuda.device_count(),
                gpu_memory=torch.cuda.get_device_properties(0).total_memory,
                quantization=quantization,
                dtype=name,
                batch_tokens=batch_tokens,
            )
            kwargs["device_map"] = layout.device_map
            kwargs["max_memory"] = layout.max_memory
            log.info("device map over %d GPUs: %s", layout.gpus_per_replica, layout.device_map)
        elif self.device == "cuda":
            kwargs["device_map"] = "cuda"
        return kwargs

    def _stop_ids(self) -> set[int]:
        ids = set()
        for value in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(value, int):
                ids.add(value)
            elif value:
                ids.update(value)
        return ids

    def prompt_lengths(self, prompts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(list(prompts))["input_ids"]]

    def generate(
        self,
        prompts: list[str],
        params: GenParams,
        metrics: Metrics,
        stops: Sequence[Sequence[str]] | None = None,
    ) -> list[list[Generation]]:
        """One padded `generate` call for all prompts; `samples_per_prompt` rows each.

        `stops` (per prompt, the texts that end its rows: generation.stop_marks) ends a row as
        soon as its new text holds one, and its text is cut there: a row asked for
        positives only stops at the NEGATIVE line it would otherwise add, and a stopped
        row no longer holds the batch. None (or empty marks) leaves rows to EOS and
        max_new_tokens, as the benchmark wants.

        With `prefix_cache`, the token prefix shared by every row (system message and
        few-shot turns: ~90% of each prompt here) is run through the model once per job and
        its KV cache reused by every row. Rows are then laid out as
        `[shared prefix][left padding][own suffix]`; the attention mask hides the padding
        and position ids follow the mask, so each row sees exactly its own prompt.
        """
        import torch

        k = params.samples_per_prompt
        ids = [row for row in self.tokenizer(list(prompts))["input_ids"] for _ in range(k)]
        prefix, cache = self._prefix_cache(ids) if self.prefix_cache else ([], None)
        input_ids, mask = self._lay_out(ids, prefix)
        # greedy: also no top-k, which a checkpoint's generation_config may set
        extra = {} if params.do_sample else {"top_k": None}
        row_stops = [tuple(marks) for marks in (stops or [()] * len(prompts)) for _ in range(k)]
        if any(row_stops):
            from transformers import StoppingCriteriaList

            stop = StopMarks(self.tokenizer, row_stops, input_ids.shape[1])
            extra["stopping_criteria"] = StoppingCriteriaList([stop])
        if cache is not None:
            batch_cache = copy.deepcopy(cache)
            batch_cache.batch_repeat_interleave(len(ids))
            extra["past_key_values"] = batch_cache
        started = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids.to(self.model.device),
                attention_mask=mask.to(self.model.device),
                max_new_tokens=params.max_new_tokens,
                min_new_tokens=params.min_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=sorted(self.stop_ids),
                **sampling_kwargs(params),
                **extra,
            )
        metrics.generate_s += time.perf_counter() - started
        new = out[:, input_ids.shape[1] :].tolist()
        rows = [self._decode(seq, marks) for seq, marks in zip(new, row_stops, strict=True)]
        generated = sum(r.new_tokens for r in rows)
        metrics.add_call(len(prompts), rows, out.numel() - int(mask.sum()) - generated)
        return [rows[i * k : (i + 1) * k] for i in range(len(prompts))]

    def _lay_out(self, ids: list[list[int]], prefix: list[int]):
        """Input ids and attention mask of rows laid out as `[shared prefix][left
        padding][own suffix]`: every row's last token sits at the same position."""
        import torch

        p = len(prefix)
        width = max(len(row) for row in ids) - p
        input_ids = torch.full((len(ids), p + width), self.tokenizer.pad_token_id)
        mask = torch.zeros((len(ids), p + width), dtype=torch.long)
        for r, row in enumerate(ids):
            start = p + width - (len(row) - p)  # left padding sits between prefix and suffix
            input_ids[r, :p] = torch.tensor(prefix, dtype=torch.long)
            input_ids[r, start:] = torch.tensor(row[p:], dtype=torch.long)
            mask[r, :p] = 1
            mask[r, start:] = 1
        return input_ids, mask

    def _decode(self, seq: list[int], stops: Sequence[str] = ()) -> Generation:
        """Text and token count of one row's new tokens, up to and including its EOS; a
        row ended by a stop mark is finished too, its text cut before the mark (as vLLM
        does)."""
        length, finished = len(seq), False
        for i, tok in enumerate(seq):
            if tok in self.stop_ids:
                length, finished = i + 1, True  # what follows the EOS is filler
                break
        text, stopped = cut_at_stop(
            self.tokenizer.decode(seq[:length], skip_special_tokens=True), stops
        )
        return Generation(text, length, finished or stopped)

    def _prefix_cache(self, rows: list[list[int]]):
        """(prefix ids, KV cache of the prefix) for the token prefix every row shares.

        The cache is kept for the job: later batches whose rows start with the same prefix
        reuse it. Each row keeps at least one token of its own, so generate has an input.
        """
        import torch
        from transformers import DynamicCache

        limit = min(len(r) for r in rows) - 1
        if self._prefix is not None:
            known = self._prefix[0]
            if len(known) <= limit and all(r[: len(known)] == known for r in rows):
                return self._prefix
        common = 0
        first = rows[0]
        while common < limit and all(r[common] == first[common] for r in rows):
            common += 1
        if common < MIN_PREFIX_TOKENS:
            return [], None
        prefix = first[:common]
        cache = DynamicCache(config=self.model.config)
        with torch.inference_mode():
            self.model(
                input_ids=torch.tensor([prefix], device=self.model.device), past_key_values=cache
            )
        if cache.get_seq_length() != len(prefix):  # the model ignored the cache argument
            raise RuntimeError(
                f"prefix cache holds {cache.get_seq_length()} of {len(prefix)} tokens after "
                "prefill: this transformers version does not take `past_key_values`; set "
                "generation.prefix_cache: false"
            )
        self._prefix = (prefix, cache)
        return self._prefix


class StopMarks:
    """A stopping criterion per row: True once the row's new text holds one of its marks."""

    def __init__(self, tokenizer, row_stops: Sequence[Sequence[str]], prompt_width: int):
        self.tokenizer = tokenizer
        self.marks = row_stops
        self.prompt_width = prompt_width

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if input_ids.shape[1] <= self.prompt_width:
            return done
        start = max(self.prompt_width, input_ids.shape[1] - 6)
        for row, marks in enumerate(self.marks):
            tail = self.tokenizer.decode(input_ids[row, start:], skip_special_tokens=True)
            done[row] = bool(marks) and any(mark in tail for mark in marks)
        return done


@dataclass
class BatchLimits:
    batch_size: int = 16
    token_budget: int = 8192  # bucketed: rows x (longest prompt + max_new_tokens) per batch
    progress: OnProgress | None = field(default=None, repr=False)
    # Called after every finished batch with the prompts' input indices and their
    # generations, so callers can checkpoint (the per-item cache) before the run ends.
    on_done: OnDone | None = field(default=None, repr=False)
    # New tokens each prompt may take (at most GenParams.max_new_tokens): a batch runs to
    # the largest of its rows' budgets, and bucketed packs by prompt + own budget. None:
    # every prompt gets max_new_tokens.
    new_tokens: Sequence[int] | None = field(default=None, repr=False)
    # Per prompt, the texts that end its rows (Engine.generate's stops), or None.
    stops: Sequence[Sequence[str]] | None = field(default=None, repr=False)


def _batched_call(engine: Engine, prompts, params: GenParams, metrics: Metrics, plan: BatchLimits):
    """`call(indices)`: generate for prompts[indices] (halving on OOM), report, checkpoint."""

    def run(batch: list[int], batch_params: GenParams) -> list[list[Generation]]:
        stops = [plan.stops[i] for i in batch] if plan.stops is not None else None
        out = engine.generate([prompts[i] for i in batch], batch_params, metrics, stops)
        if plan.progress:
            plan.progress(len(batch), sum(g.new_tokens for gens in out for g in gens))
        return out

    def on_split() -> None:
        metrics.oom_splits += 1

    def call(indices: list[int]) -> list[list[Generation]]:
        batch_params = params
        if plan.new_tokens is not None:
            most = max(min(plan.new_tokens[i], params.max_new_tokens) for i in indices)
            batch_params = replace(params, max_new_tokens=most)
        out = split_on_oom(lambda batch: run(batch, batch_params), list(indices), on_split)
        if plan.on_done:
            plan.on_done(indices, out)
        return out

    return call


def run_sequential(engine, prompts, params, metrics, plan):
    call = _batched_call(engine, prompts, params, metrics, plan)
    return [call([i])[0] for i in range(len(prompts))]


def run_fake_batch(engine, prompts, params, metrics, plan):
    call = _batched_call(engine, prompts, params, metrics, plan)
    out = []
    for start in range(0, len(prompts), plan.batch_size):
        batch = range(start, min(start + plan.batch_size, len(prompts)))
        out += [call([i])[0] for i in batch]  # a "batch" that is really a for-loop
    return out


def run_true_batch(engine, prompts, params, metrics, plan):
    call = _batched_call(engine, prompts, params, metrics, plan)
    out = []
    for start in range(0, len(prompts), plan.batch_size):
        out += call(list(range(start, min(start + plan.batch_size, len(prompts)))))
    return out


def bucket_batches(
    lengths: Sequence[int],
    max_new_tokens: int | Sequence[int],
    batch_size: int,
    token_budget: int,
) -> list[list[int]]:
    """Group prompt indices by length so each batch keeps rows x (longest prompt + its new
    tokens) in budget. `max_new_tokens` is one number or one per prompt.

    A prompt that alone exceeds the budget is an error, not a batch over budget: the
    budget is what bounds memory on a GPU.
    """
    news = [max_new_tokens] * len(lengths) if isinstance(max_new_tokens, int) else max_new_tokens
    need = [n + new for n, new in zip(lengths, news, strict=True)]
    order = sorted(range(len(lengths)), key=lambda i: (need[i], lengths[i]))
    if order and need[order[-1]] > token_budget:
        i = order[-1]
        raise ConfigError(
            f"token_budget: {token_budget} tokens per row cannot hold the longest prompt "
            f"({lengths[i]} tokens) plus its new tokens ({news[i]}); raise "
            "generation.token_budget (benchmark.token_budget in the benchmark)"
        )
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = max(lengths[j] for j in [*current, i]) + max(news[j] for j in [*current, i])
        if current and (
            len(current) + 1 > batch_size or (len(current) + 1) * longest > token_budget
        ):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def run_bucketed(engine, prompts, params, metrics, plan):
    call = _batched_call(engine, prompts, params, metrics, plan)
    rows_per_prompt = params.samples_per_prompt
    new_tokens = params.max_new_tokens
    if plan.new_tokens is not None:
        new_tokens = [min(n, params.max_new_tokens) for n in plan.new_tokens]
    batches = bucket_batches(
        engine.prompt_lengths(prompts),
        new_tokens,
        max(1, plan.batch_size),
        max(1, plan.token_budget // rows_per_prompt),
    )
    out: list = [None] * len(prompts)
    for batch in batches:
        for i, gens in zip(batch, call(batch), strict=True):
            out[i] = gens
    return out


def run_continuous(engine, prompts, params, metrics, plan):
    """transformers' continuous batching (paged attention, requests join as others finish)."""
    model = engine.model
    if not hasattr(model, "generate_batch"):
        raise StrategyUnavailable(
            "strategy 'continuous' needs transformers' generate_batch (continuous batching), "
            "which the installed transformers does not have"
        )
    from transformers import GenerationConfig

    config = GenerationConfig(
        max_new_tokens=params.max_new_tokens,
        min_new_tokens=params.min_new_tokens,
        **sampling_kwargs(params),
        eos_token_id=sorted(engine.stop_ids),
        pad_token_id=engine.tokenizer.pad_token_id,
        num_return_sequences=params.samples_per_prompt,
    )
    inputs = [engine.tokenizer(p)["input_ids"] for p in prompts]
    started = time.perf_counter()
    try:
        results = model.generate_batch(inputs=inputs, generation_config=config)
    except (NotImplementedError, ValueError, RuntimeError) as exc:
        raise StrategyUnavailable(f"strategy 'continuous' cannot run here: {exc}") from exc
    metrics.generate_s += time.perf_counter() - started
    k = params.samples_per_prompt
    if len(results) != len(prompts) * k:
        # Its generation thread logs its own error and returns what it had (on CPU,
        # transformers 4.57 cannot size the paged cache: it reads CUDA memory stats).
        raise StrategyUnavailable(
            f"strategy 'continuous' returned {len(results)} of {len(prompts) * k} results; "
            "transformers' ContinuousBatchingLogger error above says why"
        )
    rows = []
    for res in results.values():  # in input order, each prompt's samples together
        seq = list(res.generated_tokens)
        finished = bool(seq) and seq[-1] in engine.stop_ids
        text = engine.tokenizer.decode(seq, skip_special_tokens=True)
        rows.append(Generation(text, len(seq), finished))
    metrics.add_call(len(prompts), rows)
    if plan.progress:
        plan.progress(len(prompts), sum(r.new_tokens for r in rows))
    out = [rows[i * k : (i + 1) * k] for i in range(len(prompts))]
    if plan.on_done:
        plan.on_done(list(range(len(prompts))), out)
    return out


RUNNERS: dict[str, Callable] = {
    "sequential": run_sequential,
    "fake_batch": run_fake_batch,
    "true_batch": run_true_batch,
    "bucketed": run_bucketed,
    "continuous": run_continuous,
}
assert tuple(RUNNERS) == STRATEGIES  # every strategy the registry names has its runner


def run_strategy(
    name: str, engine: Engine, prompts: list[str], params: GenParams, plan: BatchLimits
) -> tuple[list[list[Generation]], Metrics]:
    """Generate for every prompt with the named strategy; outputs in input order."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    import torch

    torch.manual_seed(params.seed)
    metrics = Metrics()
    if not prompts:
        return [], metrics
    return RUNNERS[name](engine, prompts, params, metrics, plan), metrics


class TransformersBackend:
    """The Backend protocol over an Engine and one of its strategies."""

    name = "transformers"

    def __init__(self, engine: Engine, strategy: str, batch_size: int, token_budget: int):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {sorted(STRATEGIES)}")
        self.engine = engine
        self.strategy = strategy
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.device = engine.device
        self.load_s = engine.load_s

    def render(self, request: Request) -> str:
        return render_chat(self.engine.tokenizer, request.messages, request.prefill)

    def generate(
        self,
        requests: Sequence[Request],
        params: GenParams,
        on_done: OnDone | None = None,
        progress: OnProgress | None = None,
    ) -> tuple[list[list[Generation]], Metrics]:
        plan = BatchLimits(
            self.batch_size,
            self.token_budget,
            progress,
            on_done,
            [r.budget(params) for r in requests],
            [r.stops for r in requests],
        )
        texts = [self.render(r) for r in requests]
        return run_strategy(self.strategy, self.engine, texts, params, plan)

    def close(self) -> None:
        pass

    @classmethod
    def from_settings(
        cls,
        generator: GeneratorSettings,
        generation: GenerationSettings,
        threads: int | None = None,
        gpus: int = 0,  # the job's GPUs are the visible ones (CUDA_VISIBLE_DEVICES)
    ) -> TransformersBackend:
        engine = Engine(
            generator.model,
            device=generator.device,
            dtype=generator.dtype,
            threads=threads,
            attn_implementation=generator.attn_implementation,
            prefix_cache=generation.prefix_cache,
            quantization=generator.quantization,
            batch_tokens=generation.token_budget,
        )
        return cls(engine, generation.strategy, generation.batch_size, generation.token_budget)


def cache_identity(generator: GeneratorSettings) -> dict:
    """What, beside the model and the sampling params, changes this backend's tokens."""
    device = resolve_device(generator.device)
    return {
        "quantization": generator.quantization,
        # float16 and float32 (or two attention kernels) sample different tokens; `auto`
        # is resolved, since it means float32 on a CPU and bfloat16 on an A100 (spelled
        # as torch names it, the key's form since the cache began)
        "dtype": f"torch.{resolve_dtype(generator.dtype, device)}",
        "attn_implementation": generator.attn_implementation,
    }
