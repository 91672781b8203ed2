"""Which device and dtype generation runs on: generator.device and generator.dtype,
`auto` resolved here and nowhere else (the backends, the vLLM worker's settings, the
planner and the per-item cache key all ask this module)."""

from __future__ import annotations

import logging
from pathlib import Path

from contrastgen.errors import ConfigError

log = logging.getLogger(__name__)

DTYPES = ("float16", "bfloat16", "float32")
BF16_MIN_COMPUTE_CAPABILITY = 8.0  # Ampere; Turing (RTX 2080 Ti, 7.5) has no bf16
# CPU flags of native bf16 arithmetic (Intel Cooper Lake / Sapphire Rapids, AMD Zen 4)
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def scheduled_device(setting: str, host_gpus: int) -> str:
    """The device the workflow schedules generation jobs for, at parse time (no torch
    import): `cuda` as asked even where this host has none (a Slurm submit host), and
    `auto` is cuda when the host lists GPUs (gpus.host_gpu_ids)."""
    return "cuda" if setting == "cuda" or (setting == "auto" and host_gpus > 0) else "cpu"


def resolve_device(setting: str) -> str:
    """The device a job runs on: what torch sees on this host."""
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "generator.device is 'cuda' but torch sees no CUDA device on this host; use auto or cpu"
        )
    return setting


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes in bf16 natively (`cpuinfo`: /proc/cpuinfo's text, read
    when None; no such file, as on macOS, counts as no)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = {
        flag
        for line in cpuinfo.splitlines()
        if line.startswith("flags")
        for flag in line.partition(":")[2].split()
    }
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def has_bf16(compute_capability: float | None = None) -> bool:
    """Whether the GPUs have bf16: from their compute capability where the caller knows it
    (the planner, from nvidia-smi; None: a card not seen is assumed to have it), else
    from torch on this host."""
    if compute_capability is not None:
        return compute_capability >= BF16_MIN_COMPUTE_CAPABILITY
    import torch

    return torch.cuda.is_bf16_supported()


def resolve_dtype(
    setting: str, device: str, backend: str = "transformers", bf16: bool | None = None
) -> str:
    """The dtype's name. `auto`: on a GPU bfloat16 where the card has it, else float16
    (pre-Ampere: RTX 2080 Ti); on a CPU float32, except bfloat16 for vLLM on a CPU with
    native bf16 (CPU_BF16_FLAGS). Without those flags vLLM's CPU kernels emulate bf16:
    on real answers float32 ran its prefill and decode ~2x faster (docs/benchmarks.md,
    issue 34). `bf16`: whether the GPU has it (None: has_bf16())."""
    if setting not in ("auto", *DTYPES):
        raise ConfigError(f"generator.dtype must be auto or one of {DTYPES}, not {setting!r}")
    if device == "cpu":
        if setting == "auto":
            return "bfloat16" if backend == "vllm" and cpu_has_bf16() else "float32"
        return setting
    card_has_bf16 = has_bf16() if bf16 is None else bf16
    if setting == "auto":
        return "bfloat16" if card_has_bf16 else "float16"
    if setting == "bfloat16" and not card_has_bf16:
        raise ConfigError(
            "generator.dtype is bfloat16 but this GPU has no bf16 support (pre-Ampere, e.g. "
            "RTX 2080 Ti); use float16 or auto"
        )
    return setting


def torch_dtype(name: str):
    """The torch dtype of a name resolve_dtype gave."""
    import torch

    return getattr(torch, name)


def log_cpu_dtype(setting: str, device: str, backend: str) -> None:
    """Say in the job's log which dtype `auto` chose on a CPU, and why."""
    if device != "cpu" or setting != "auto":
        return
    chosen = resolve_dtype(setting, device, backend)
    why = "this CPU has native bf16" if cpu_has_bf16() else "no native bf16 on this CPU"
    log.info("generator.dtype auto on a CPU: %s for %s (%s)", chosen, backend, why)
