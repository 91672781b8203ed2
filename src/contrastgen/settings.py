"""config.yaml's sections as frozen, typed settings: built from the validated config
(`Settings.from_config` for the whole tree, `<Section>.from_config` for the section a
rule's params carry) and handed to the library, which never reads a raw config dict.

config.yaml holds every default and the schema (workflow/schemas/config.schema.yaml)
requires and checks every key, so these types carry no defaults of their own: they name
the values. The lists the schema enumerates (backends, strategies, server APIs,
quantizations) are the code's own registries, and tests/unit/test_records.py keeps them
equal.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Self

from contrastgen.generation import GenParams


def _from(cls, data: dict[str, Any], **nested):
    """`cls` from a config section: its own keys, with nested sections already built."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names and k not in nested}, **nested)


class Section:
    """A config section without nested ones: built from its keys."""

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> Self:
        return _from(cls, section)


# Keys that change how fast a step runs, never what it writes. A rule leaves them out of
# its params (Snakemake reruns a job whose params changed, and the per-item cache key
# leaves them out too) and the job takes them from the run's config: `with_speed_knobs`.
# Generation's batching is one: a rerun with another batch size would answer every item
# from the per-item cache, whose key leaves batching out.
SPEED_KNOBS: dict[str, tuple[str, ...]] = {
    "generation": ("strategy", "prefix_cache", "batch_size", "token_budget"),
    "generator": (
        "threads",
        "gpu_lock_dir",
        "server.max_concurrency",
        "server.timeout_s",
        "server.retries",
        "server.retry_backoff_s",
    ),
    "validator": ("batch_size",),
}


def _copy(values: dict[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}


def _holder(values: dict[str, Any], key: str, create: bool = False) -> tuple[dict, str]:
    """The dict that holds dotted `key` ("server.retries") in `values`, and its last name."""
    *parents, name = key.split(".")
    for parent in parents:
        values = values.setdefault(parent, {}) if create else values[parent]
    return values, name


def speed_knob(config: dict[str, Any], key: str) -> Any:
    """The run's value of one speed knob, `key` dotted from the section
    ("validator.batch_size"); only SPEED_KNOBS are read around the params."""
    section, _, rest = key.partition(".")
    if rest not in SPEED_KNOBS.get(section, ()):
        raise KeyError(f"{key} is not a speed knob: pass it in the rule's params")
    holder, name = _holder(config[section], rest)
    return holder[name]


# Keys that change only what a run measures (rule judged_precision), never what a step
# that generates or decides writes: those rules' params leave them out too, so naming a
# labels file in validator.judged reruns the measurement and merge alone.
MEASURE_ONLY: dict[str, tuple[str, ...]] = {"validator": ("judged",)}


def without_speed_knobs(section: str, values: dict[str, Any]) -> dict[str, Any]:
    """`values` of config section `section` without its SPEED_KNOBS and MEASURE_ONLY
    keys (a copy)."""
    out = _copy(values)
    for key in SPEED_KNOBS[section] + MEASURE_ONLY.get(section, ()):
        holder, name = _holder(out, key)
        holder.pop(name, None)
    return out


def with_speed_knobs(section: str, values: dict[str, Any], config: dict[str, Any]) -> dict:
    """`values` (a rule's params) with section `section`'s SPEED_KNOBS put back from the
    run's `config`, where the params do not set one themselves (the planner's token
    budget, which gpus_per_job: auto chose, is a param)."""
    out = _copy(values)
    for key in SPEED_KNOBS[section]:
        holder, name = _holder(out, key, create=True)
        holder.setdefault(name, speed_knob(config, f"{section}.{key}"))
    return out


@dataclass(frozen=True)
class VllmSettings(Section):
    """generator.vllm: the vllm backend's engine."""

    python: str
    shared_engine: bool  # one server per replica for the run; the jobs are its clients
    enforce_eager: bool
    cpu_kv_cache_gib: float
    gpu_memory_utilization: float
    compile_cache: str | None
    # From the GPU plan (gpus_per_job: auto); None: tensor parallel over the job's GPUs.
    tensor_parallel: int | None = None
    pipeline_parallel: int | None = None


@dataclass(frozen=True)
class ServerSettings(Section):
    """generator.server: the running OpenAI-compatible server of the openai backend."""

    base_url: str
    model: str
    api: str
    api_key_env: str | None
    max_concurrency: int
    timeout_s: float
    retries: int
    retry_backoff_s: float

    def api_key(self) -> str | None:
        """The key from the environment variable the config names (never the config)."""
        import os

        from contrastgen.errors import ConfigError

        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(
                f"generator.server.api_key_env: the environment variable {self.api_key_env} "
                "is not set (export it, or set the key to null for a server without one)"
            )
        return key


@dataclass(frozen=True)
class GeneratorSettings:
    """generator: which model, where, and which backend runs it."""

    model: str
    vllm: VllmSettings
    server: ServerSettings
    backend: str
    device: str
    dtype: str
    quantization: str
    attn_implementation: str | None
    gpus_per_job: int | str
    gpu_memory: str
    gpu_lock_dir: str
    threads: int

    @classmethod
    def from_config(
        cls, generator: dict[str, Any], project_dir: str | Path | None = None
    ) -> GeneratorSettings:
        """`project_dir`: where a relative generator.vllm.python lives (`make setup-vllm`
        puts the environment in the project, wherever the run's working directory is)."""
        server = dict(generator["server"])
        server["base_url"] = server["base_url"].rstrip("/")
        vllm = dict(generator["vllm"])
        if project_dir is not None and not Path(vllm["python"]).is_absolute():
            vllm["python"] = str(Path(project_dir) / vllm["python"])
        return _from(
            cls,
            generator,
            vllm=VllmSettings.from_config(vllm),
            server=ServerSettings.from_config(server),
        )

    @property
    def uses_server(self) -> bool:
        """Whether generation goes to a running server (backend: openai)."""
        return self.backend == "openai"

    @property
    def uses_shared_engine(self) -> bool:
        """Whether the workflow runs one vLLM server per replica for the whole run, whose
        clients the generation jobs are (backend: vllm with vllm.shared_engine)."""
        return self.backend == "vllm" and self.vllm.shared_engine

    @property
    def needs_local_model(self) -> bool:
        """Whether generator.model must be a local model directory: always but with a
        server whose chat endpoint renders the prompts itself."""
        return not (self.uses_server and self.server.api == "chat")

    def but(self, **changes) -> GeneratorSettings:
        """A copy with `changes`; `vllm=` / `server=` take dicts of their own changes."""
        for section in ("vllm", "server"):
            if isinstance(changes.get(section), dict):
                changes[section] = replace(getattr(self, section), **changes[section])
        return replace(self, **changes)


@dataclass(frozen=True)
class GenerationSettings(Section):
    """generation (or refine's overrides of it): batching and sampling."""

    max_new_tokens: int
    temperature: float
    top_p: float
    samples_per_prompt: int
    seed: int
    strategy: str
    prefix_cache: bool
    batch_size: int
    token_budget: int

    def params(self) -> GenParams:
        return GenParams(
            max_new_tokens=self.max_new_tokens,
            do_sample=self.temperature > 0,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            samples_per_prompt=self.samples_per_prompt,
        )

    def but(self, **changes) -> GenerationSettings:
        return replace(self, **changes)


@dataclass(frozen=True)
class BenchmarkSettings:
    """benchmark: the engine benchmark's sample and modes."""

    sample_size: int
    seed: int
    strategies: tuple[str, ...]
    sampled_strategies: tuple[str, ...]
    vllm: bool | str
    server: bool
    max_new_tokens: int
    fixed_new_tokens: bool
    prefix_cache: bool
    batch_size: int
    token_budget: int

    @classmethod
    def from_config(cls, benchmark: dict[str, Any]) -> BenchmarkSettings:
        return _from(
            cls,
            benchmark,
            strategies=tuple(benchmark["strategies"]),
            sampled_strategies=tuple(benchmark["sampled_strategies"]),
        )


@dataclass(frozen=True)
class IngestLimits:
    """ingest.min_words / max_words: which instructions are usable."""

    min_words: int
    max_words: int

    @property
    def max_chars(self) -> int:
        # A generous 25 characters per allowed word: catches a megabyte "instruction"
        # with no spaces before it is normalised or tokenised.
        return 25 * self.max_words


@dataclass(frozen=True)
class IngestSettings:
    """ingest: the shards, the limits and what a bad corpus record does."""

    shards: int
    limits: IngestLimits
    on_bad_record: str

    @classmethod
    def from_config(cls, ingest: dict[str, Any]) -> IngestSettings:
        return cls(
            ingest["shards"],
            IngestLimits(ingest["min_words"], ingest["max_words"]),
            ingest["on_bad_record"],
        )


@dataclass(frozen=True)
class Targets(Section):
    """targets: accepted positives and negatives an item is complete with."""

    positives: int
    negatives: int


@dataclass(frozen=True)
class RuleEdits(Section):
    """positives / negatives: round 0's rule-made candidates and corpus-mined negatives."""

    rule_based: bool
    rule_based_per_item: int
    corpus_mined: bool = False  # negatives only
    corpus_mined_per_item: int = 0

    @property
    def per_item(self) -> int:
        """Rule-made candidates per item in round 0 (0 when rule_based is off)."""
        return self.rule_based_per_item if self.rule_based else 0


@dataclass(frozen=True)
class RefineSettings(Section):
    """refine: the rounds after round 0 and their sampling."""

    max_rounds: int
    temperature: float
    samples_per_prompt: int


@dataclass(frozen=True)
class Thresholds(Section):
    """validator.thresholds: what an accepted candidate must score."""

    positive_min_similarity: float
    negative_min_similarity: float
    negative_max_similarity: float
    max_length_ratio: float
    # A positive must differ from the original by at least this many words (word-level
    # edit distance); 1 keeps every rewording, higher drops trivial ones.
    positive_min_word_edits: int


@dataclass(frozen=True)
class ValidatorSettings:
    """validator: the embedding model, its batch size, the model judge (none | llm), the
    thresholds and the judged sets its figures are measured on (`bundled`: the project's;
    a path: a user's labels file from `contrastgen review`)."""

    model: str
    batch_size: int
    thresholds: Thresholds
    judge: str = "none"  # a config.yaml from before the key keeps the rules alone
    judged: tuple[str, ...] = ("bundled",)

    @classmethod
    def from_config(cls, validator: dict[str, Any]) -> ValidatorSettings:
        return _from(
            cls,
            validator,
            thresholds=Thresholds.from_config(validator["thresholds"]),
            judged=tuple(validator.get("judged", ("bundled",))),
        )


@dataclass(frozen=True)
class Settings:
    """The whole validated config.yaml, typed."""

    corpus: str
    cache_dir: str
    ingest: IngestSettings
    targets: Targets
    positives: RuleEdits
    negatives: RuleEdits
    refine: RefineSettings
    generator: GeneratorSettings
    generation: GenerationSettings
    validator: ValidatorSettings
    benchmark: BenchmarkSettings

    @classmethod
    def from_config(cls, config: dict[str, Any], project_dir: str | Path | None = None) -> Settings:
        return cls(
            corpus=config["corpus"],
            cache_dir=config["cache"]["dir"],
            ingest=IngestSettings.from_config(config["ingest"]),
            targets=Targets.from_config(config["targets"]),
            positives=RuleEdits.from_config(config["positives"]),
            negatives=RuleEdits.from_config(config["negatives"]),
            refine=RefineSettings.from_config(config["refine"]),
            generator=GeneratorSettings.from_config(config["generator"], project_dir),
            generation=GenerationSettings.from_config(config["generation"]),
            validator=ValidatorSettings.from_config(config["validator"]),
            benchmark=BenchmarkSettings.from_config(config["benchmark"]),
        )


def read_config_yaml(path: str | Path) -> dict[str, Any]:
    """A config.yaml as the workflow reads it (the CLI's and the tests' defaults)."""
    import yaml

    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
