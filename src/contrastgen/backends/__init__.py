"""Generation backends behind one protocol (base.Backend): `transformers` (Hugging Face
`generate` with its batching strategies), `vllm` (vLLM's offline engine, in its own
environment) and `openai` (a client of an OpenAI-compatible server). Backends are
imported only when used, so parsing the Snakefile never imports torch or vLLM.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from contrastgen.backends.base import Backend
from contrastgen.settings import GenerationSettings, GeneratorSettings

__all__ = ["BACKENDS", "Backend", "cache_identity", "make_backend"]

# generator.backend -> (module, class)
BACKENDS = {
    "transformers": ("transformers_backend", "TransformersBackend"),
    "vllm": ("vllm_backend", "VllmBackend"),
    "openai": ("openai_backend", "OpenAIBackend"),
}


def _module(backend: str):
    if backend not in BACKENDS:
        raise ValueError(f"generator.backend must be one of {sorted(BACKENDS)}, not {backend!r}")
    return import_module(f".{BACKENDS[backend][0]}", __name__)


def make_backend(
    generator: GeneratorSettings,
    generation: GenerationSettings,
    threads: int | None = None,
    gpus: int = 0,
    engine: str | None = None,
) -> Backend:
    """The configured backend, loaded; with `engine` (the service file of the run's
    shared engine) a client of that engine."""
    if engine:  # imported by name, as the backends are: parsing imports none of them
        return import_module(".shared_engine", __name__).client(generator, engine)
    name = generator.backend
    cls = getattr(_module(name), BACKENDS[name][1])
    return cls.from_settings(generator, generation, threads, gpus)


def cache_identity(generator: GeneratorSettings, generation: GenerationSettings) -> dict[str, Any]:
    """What makes a backend's answers what they are, for the per-item cache key: the
    backend, the model, its own numerics and the sampling params (never batching knobs,
    which change speed, not what the model is asked)."""
    from contrastgen.cache import model_identity

    name = generator.backend
    identity = {"backend": name}
    if name != "openai":  # a server's model is named by the server (its cache_identity)
        identity["model"] = model_identity(generator.model)
    return {
        **identity,
        **_module(name).cache_identity(generator),
        "params": generation.params().to_json(),
    }
