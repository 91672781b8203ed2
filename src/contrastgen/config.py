"""Checks of config.yaml across keys and files, where the JSON schema (one value at a
time) cannot see the problem. Each problem names its key; `check_config` stops the
Snakefile's parse with all of them at once, before any job runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from contrastgen.backends.vllm_backend import vllm_env_ready
from contrastgen.compute.models import model_dir_problem
from contrastgen.errors import ConfigError
from contrastgen.settings import Settings
from contrastgen.validation.validator import resolve_validator_model


def config_problems(settings: Settings) -> Iterator[str]:
    """Values that pass the schema one by one but cannot work together."""
    limits = settings.ingest.limits
    if limits.min_words > limits.max_words:
        yield (
            f"ingest.min_words ({limits.min_words}) is larger than ingest.max_words "
            f"({limits.max_words}): every record would be rejected"
        )
    t = settings.validator.thresholds
    if t.negative_min_similarity >= t.negative_max_similarity:
        yield (
            f"validator.thresholds.negative_min_similarity ({t.negative_min_similarity}) "
            f"must be below negative_max_similarity ({t.negative_max_similarity}): "
            "no negative could pass"
        )
    if settings.targets.positives == 0 and settings.targets.negatives == 0:
        yield "targets.positives and targets.negatives are both 0: nothing to generate"
    generation = settings.generation
    if generation.max_new_tokens >= generation.token_budget:
        yield (
            f"generation.token_budget ({generation.token_budget}) must exceed "
            f"generation.max_new_tokens ({generation.max_new_tokens}) plus a prompt"
        )


def server_problems(settings: Settings) -> Iterator[str]:
    """What stops the openai backend (or the benchmark's server entries) before any job."""
    if not (settings.generator.uses_server or settings.benchmark.server):
        return
    if settings.generator.quantization != "none":
        yield (
            "generator.quantization: with a server, quantization is the server's "
            "(e.g. an AWQ checkpoint); set it to 'none'"
        )
    try:
        settings.generator.server.api_key()
    except ConfigError as exc:
        yield str(exc)


def engine_problems(settings: Settings, device: str, conda: bool) -> Iterator[str]:
    """What the configured engine needs from this machine: the vLLM environment (unless
    `--sdm conda` makes it), a CUDA GPU for bitsandbytes. `device`: the scheduled one."""
    generator = settings.generator
    if generator.backend == "vllm" and not (vllm_env_ready(generator) or conda):
        yield (
            f"generator.backend: vllm needs the vLLM environment, and "
            f"generator.vllm.python ({generator.vllm.python}) does not exist: "
            "run `make setup-vllm`, or use --sdm conda (envs/vllm.yaml)"
        )
    if settings.benchmark.vllm is True and not vllm_env_ready(generator):
        yield (
            "benchmark.vllm: true needs the vLLM environment (generator.vllm.python): "
            "run `make setup-vllm`, or set it to auto"
        )
    if generator.quantization != "none" and device != "cuda" and not settings.generator.uses_server:
        yield (
            "generator.quantization: bitsandbytes 8bit/4bit needs a CUDA GPU, and this "
            "run has none (generator.device resolves to cpu); set it to 'none'"
        )


def file_problems(settings: Settings, built_models: tuple[str, ...]) -> Iterator[str]:
    """Files the config names that are missing or unusable; `built_models`: model
    directories a rule of the workflow builds (the embedded generator)."""
    if not Path(settings.corpus).is_file():
        yield f"corpus: file {settings.corpus!r} does not exist"
    model = settings.generator.model
    if settings.generator.needs_local_model and model not in built_models:
        problem = model_dir_problem(model)
        if problem:
            yield f"generator.model: {problem}"
    for labels in settings.validator.judged:
        if labels != "bundled" and not Path(labels).is_file():
            yield (
                f"validator.judged: labels file {labels!r} does not exist (name a file "
                "`contrastgen review` wrote, or `bundled`)"
            )
    try:
        resolve_validator_model(settings.validator.model)
    except FileNotFoundError as exc:
        yield str(exc)


def check_config(
    settings: Settings, device: str, conda: bool, built_models: tuple[str, ...] = ()
) -> None:
    """Raise one ConfigError that lists every problem of the run's config."""
    problems = [
        *config_problems(settings),
        *file_problems(settings, built_models),
        *engine_problems(settings, device, conda),
        *server_problems(settings),
    ]
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
