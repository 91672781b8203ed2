"""The vllm backend: vLLM's offline engine (continuous batching, paged KV cache, prefix
caching, tensor parallel over the job's GPUs), run in the vLLM environment.

vLLM needs transformers 5 and the workflow pins 4.57, so the engine lives in a child
process started with the vLLM environment's Python (vllm_worker.py); this class is the
job's end of the two pipes between them. All requests go to the engine at once, and each
is handed to `on_done` (the per-item cache) the moment it finishes.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from contrastgen import OFFLINE_ENV
from contrastgen.compute.devices import log_cpu_dtype, resolve_device, resolve_dtype
from contrastgen.errors import ConfigError
from contrastgen.generation import Generation, GenParams, Metrics, OnDone, OnProgress, Request
from contrastgen.processes import kill_group
from contrastgen.settings import GenerationSettings, GeneratorSettings

log = logging.getLogger(__name__)

SRC_DIR = Path(__file__).resolve().parents[2]  # the directory holding `contrastgen`


class WorkerError(RuntimeError):
    """The vLLM worker failed or exited; its traceback is in the job's log above."""


def vllm_env_ready(generator: GeneratorSettings) -> bool:
    """Whether generator.vllm.python is an interpreter (`make setup-vllm` made it)."""
    configured = Path(generator.vllm.python)
    return configured.is_file() and os.access(configured, os.X_OK)


def vllm_python(generator: GeneratorSettings) -> str:
    """The interpreter of the vLLM environment: generator.vllm.python, or, when the job
    itself runs in an environment that has vLLM (`--sdm conda` with envs/vllm.yaml), the
    job's own."""
    configured = generator.vllm.python
    if vllm_env_ready(generator):
        return str(Path(configured).absolute())
    from importlib.util import find_spec

    if find_spec("vllm") is not None:  # this job's own environment has vLLM
        return sys.executable
    raise ConfigError(
        f"generator.backend is vllm but generator.vllm.python ({configured}) is not an "
        "interpreter: run `make setup-vllm` (or point the key at one with vLLM installed)"
    )


def cache_identity(generator: GeneratorSettings) -> dict:
    """What, beside the model and the sampling params, changes this backend's tokens."""
    device = resolve_device(generator.device)
    return {"dtype": resolve_dtype(generator.dtype, device, "vllm")}


def vllm_env(device: str, threads: int, compile_cache: str | None) -> dict[str, str]:
    """The environment of a vLLM process (this backend's worker, or `contrastgen serve`)."""
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC_DIR), os.environ.get("PYTHONPATH")])),
    }
    if device == "cpu" and "VLLM_CPU_OMP_THREADS_BIND" not in os.environ:
        # vLLM pins its compute threads to all cores but one, which it keeps for its
        # scheduler: one core of two on a 2-core box (docs/benchmarks.md measures the
        # cost). Instead use the job's threads, as the transformers backend does.
        env["VLLM_CPU_OMP_THREADS_BIND"] = "nobind"
        env["OMP_NUM_THREADS"] = str(threads)
    if compile_cache:
        # every job of a run (and a rerun) finds the compiled graphs of the first
        env["VLLM_CACHE_ROOT"] = str(Path(compile_cache).absolute())
    return env


class VllmBackend:
    name = "vllm"

    def __init__(self, python: str, settings: dict):
        started = time.perf_counter()
        self.settings = settings
        self.device = settings["device"]
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        env = vllm_env(settings["device"], settings["threads"], settings.get("compile_cache"))
        self.process = subprocess.Popen(
            [
                python,
                "-m",
                "contrastgen.backends.vllm_worker",
                "--in-fd",
                str(to_worker_r),
                "--out-fd",
                str(from_worker_w),
                "--settings",
                json.dumps(settings),
            ],
            pass_fds=(to_worker_r, from_worker_w),
            # its own process group, which vLLM's processes join: close() can end them all
            start_new_session=True,
            stdout=sys.stderr,  # vLLM's own logging goes to the job's log
            stderr=sys.stderr,
            env=env,
        )
        os.close(to_worker_r)
        os.close(from_worker_w)
        self.to_worker = os.fdopen(to_worker_w, "w", encoding="utf-8")
        self.from_worker = os.fdopen(from_worker_r, "r", encoding="utf-8")
        self._expect("ready")
        self.load_s = time.perf_counter() - started  # the engine itself loads on first use
        log.info("vLLM worker %d started with %s", self.process.pid, python)

    def _read(self) -> dict:
        line = self.from_worker.readline()
        if not line:
            code = self.process.wait()
            raise WorkerError(
                f"the vLLM worker exited (code {code}) before answering; its output is above"
            )
        message = json.loads(line)
        if message["event"] == "error":
            raise WorkerError(f"the vLLM worker failed: {message['message']}")
        return message

    def _expect(self, event: str) -> dict:
        message = self._read()
        if message["event"] != event:
            raise WorkerError(f"the vLLM worker sent {message['event']!r}, expected {event!r}")
        return message

    def generate(
        self,
        requests: Sequence[Request],
        params: GenParams,
        on_done: OnDone | None = None,
        progress: OnProgress | None = None,
    ) -> tuple[list[list[Generation]], Metrics]:
        if not requests:
            return [], Metrics()
        message = {
            "op": "generate",
            "requests": [r.to_json() for r in requests],
            "params": params.to_json(),
        }
        self.to_worker.write(json.dumps(message, ensure_ascii=False) + "\n")
        self.to_worker.flush()
        out: list[list[Generation] | None] = [None] * len(requests)
        while True:
            message = self._read()
            if message["event"] == "loaded":
                self.load_s += message["load_s"]
                log.info(
                    "vLLM engine loaded in %.1fs (context %d tokens)",
                    message["load_s"],
                    message["max_model_len"],
                )
            elif message["event"] == "done":
                i = message["index"]
                gens = [Generation(**g) for g in message["generations"]]
                out[i] = gens
                if on_done:
                    on_done([i], [gens])
                if progress:
                    progress(1, sum(g.new_tokens for g in gens))
            elif message["event"] == "metrics":
                metrics = Metrics(
                    **{k: v for k, v in message["metrics"].items() if k in Metrics.__annotations__}
                )
                break
        missing = [i for i, gens in enumerate(out) if gens is None]
        if missing:
            raise WorkerError(f"the vLLM worker returned no answer for requests {missing[:5]}")
        return out, metrics

    def close(self) -> None:
        """Ask the worker to shut its engine down; kill its process group if it does not."""
        if self.process.poll() is None:
            try:
                self.to_worker.write(json.dumps({"op": "close"}) + "\n")
                self.to_worker.flush()
                self.process.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                pass
        kill_group(self.process)
        self.to_worker.close()
        self.from_worker.close()

    def __del__(self):  # a backend dropped without close() must not leave vLLM behind
        if getattr(self, "process", None) is not None:
            kill_group(self.process)

    @classmethod
    def from_settings(
        cls,
        generator: GeneratorSettings,
        generation: GenerationSettings,
        threads: int | None = None,
        gpus: int = 0,
    ) -> VllmBackend:
        """From config.yaml's `generator` (with its `vllm` section) and `generation`.
        `gpus`: the GPUs this job holds; tensor parallel runs over all of them."""
        from contrastgen.compute.models import max_position_embeddings

        vllm = generator.vllm
        device = resolve_device(generator.device)
        log_cpu_dtype(generator.dtype, device, "vllm")
        if generator.quantization != "none":
            raise ConfigError(
                "generator.quantization: bitsandbytes 8bit/4bit is the transformers backend's; "
                "with vllm use a checkpoint quantized for it (AWQ, GPTQ) and quantization: none"
            )
        settings = {
            "model": str(Path(generator.model).absolute()),
            "device": device,
            "dtype": resolve_dtype(generator.dtype, device, "vllm"),
            # the plan's layout (gpus_per_job: auto), else tensor parallel over every GPU
            # the job holds
            "tensor_parallel_size": vllm.tensor_parallel or max(1, gpus) if device == "cuda" else 1,
            "pipeline_parallel_size": vllm.pipeline_parallel or 1,
            "enforce_eager": vllm.enforce_eager,
            "cpu_kv_cache_gib": vllm.cpu_kv_cache_gib,
            "gpu_memory_utilization": vllm.gpu_memory_utilization,
            "compile_cache": vllm.compile_cache,
            "max_position_embeddings": max_position_embeddings(generator.model),
            "threads": threads or os.cpu_count() or 1,
        }
        return cls(vllm_python(generator), settings)
