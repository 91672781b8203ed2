"""Generation backends behind one protocol (base.Backend): `transformers` (Hugging Face
`generate` with its batching strategies), `vllm` (vLLM's offline engine, in its own
environment) and `openai` (a client of an OpenAI-compatible server). Backends are
imported only when used, so parsing the Snakefile never imports torch or vLLM.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .base import Backend, Generation, GenParams, Metrics, Request, params_from_settings

__all__ = [
    "BACKENDS",
    "Backend",
    "GenParams",
    "Generation",
    "Metrics",
    "Request",
    "cache_identity",
    "make_backend",
    "params_from_settings",
]

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
    generator: dict, generation: dict, threads: int | None = None, gpus: int = 0
) -> Backend:
    """The configured backend, loaded (config.yaml's `generator` and `generation`)."""
    name = generator.get("backend", "transformers")
    cls = getattr(_module(name), BACKENDS[name][1])
    if name == "vllm":
        return cls.from_settings(generator, generation, threads, gpus)
    if name == "openai":
        return cls.from_settings(generator, generation)
    return cls.from_settings(generator, generation, threads)


def cache_identity(generator: dict, generation: dict) -> dict[str, Any]:
    """What makes a backend's answers what they are, for the per-item cache key: the
    backend, the model, its own numerics and the sampling params (never batching knobs,
    which change speed, not what the model is asked)."""
    from ..cache import model_identity

    name = generator.get("backend", "transformers")
    identity = {"backend": name}
    if name != "openai":  # a server's model is named by the server (its cache_identity)
        identity["model"] = model_identity(generator["model"])
    return {
        **identity,
        **_module(name).cache_identity(generator),
        "params": params_from_settings(generation).to_json(),
    }
