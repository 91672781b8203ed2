"""config.yaml's sections as frozen, typed settings: built once from the validated config
(`from_config`) and handed to the library, which never reads a raw config dict.

The schema (workflow/schemas/config.schema.yaml) checks every value; these types name
them. The lists the schema enumerates (backends, strategies, server APIs, quantizations)
are the code's own registries, and tests/unit/test_records.py keeps them equal.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from .engines.base import GenParams


def _from(cls, data: dict[str, Any], **nested):
    """`cls` from a config section: its own keys, with nested sections already built."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names and k not in nested}, **nested)


# Keys that change how fast a step runs, never what it writes. A rule leaves them out of
# its params (Snakemake reruns a job whose params changed, and the per-item cache key
# leaves them out too) and the job takes them from the run's config: `with_speed_knobs`.
SPEED_KNOBS: dict[str, tuple[str, ...]] = {
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


def without_speed_knobs(section: str, values: dict[str, Any]) -> dict[str, Any]:
    """`values` of config section `section` without its SPEED_KNOBS (a copy)."""
    out = _copy(values)
    for key in SPEED_KNOBS[section]:
        holder, name = _holder(out, key)
        holder.pop(name, None)
    return out


def with_speed_knobs(section: str, values: dict[str, Any], config: dict[str, Any]) -> dict:
    """`values` (a rule's params) with section `section`'s SPEED_KNOBS put back from the
    run's `config`."""
    out = _copy(values)
    for key in SPEED_KNOBS[section]:
        holder, name = _holder(out, key, create=True)
        holder[name] = speed_knob(config, f"{section}.{key}")
    return out


@dataclass(frozen=True)
class VllmSettings:
    """generator.vllm: the vllm backend's engine."""

    python: str
    enforce_eager: bool = True
    cpu_kv_cache_gib: float = 4.0
    gpu_memory_utilization: float = 0.9
    compile_cache: str | None = None
    # From the GPU plan (gpus_per_job: auto); None: tensor parallel over the job's GPUs.
    tensor_parallel: int | None = None
    pipeline_parallel: int | None = None


@dataclass(frozen=True)
class ServerSettings:
    """generator.server: the running OpenAI-compatible server of the openai backend."""

    base_url: str
    model: str
    api: str = "completions"
    api_key_env: str | None = None
    max_concurrency: int = 32
    timeout_s: float = 600.0
    retries: int = 5
    retry_backoff_s: float = 1.0

    def api_key(self) -> str | None:
        """The key from the environment variable the config names (never the config)."""
        import os

        from .errors import ConfigError

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
    backend: str = "transformers"
    device: str = "auto"
    dtype: str = "auto"
    quantization: str = "none"
    attn_implementation: str | None = None
    gpus_per_job: int | str = 1
    gpu_memory: str = "auto"
    gpu_lock_dir: str = "/tmp/contrastgen-gpu-locks"
    threads: int = 1

    @classmethod
    def from_config(cls, generator: dict[str, Any]) -> GeneratorSettings:
        server = dict(generator["server"])
        server["base_url"] = server["base_url"].rstrip("/")
        return _from(
            cls,
            generator,
            vllm=_from(VllmSettings, generator["vllm"]),
            server=_from(ServerSettings, server),
        )

    def but(self, **changes) -> GeneratorSettings:
        """A copy with `changes`; `vllm=` / `server=` take dicts of their own changes."""
        for section in ("vllm", "server"):
            if isinstance(changes.get(section), dict):
                changes[section] = replace(getattr(self, section), **changes[section])
        return replace(self, **changes)


@dataclass(frozen=True)
class GenerationSettings:
    """generation (or refine's overrides of it): batching and sampling."""

    max_new_tokens: int
    temperature: float
    top_p: float
    samples_per_prompt: int
    seed: int
    strategy: str = "bucketed"
    prefix_cache: bool = True
    batch_size: int = 32
    token_budget: int = 16384

    @classmethod
    def from_config(cls, generation: dict[str, Any]) -> GenerationSettings:
        return _from(cls, generation)

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
