"""The shared engine (generator.vllm.shared_engine): one vLLM OpenAI server per replica for
the whole run, whose clients the generate and refine jobs are.

Snakemake side (workflow/rules/engine.smk): each round has one `engine` job per replica
with a `service()` output; the round's generation jobs of that replica's shards consume it,
so Snakemake runs them as one group, holds the replica's GPUs for the engine job and none
for the clients. A round's engine job *ensures* the engine rather than starting one:
- the registry (`logs/engine/replica{k}.json`) names the replica's running engine, the
  snakemake that owns it and the fingerprint of its command line; an engine of this run
  (same snakemake, same host, same fingerprint, alive) is reused, so a local run starts
  one engine per replica, not one per round;
- otherwise it starts one: a keeper process (engine_keeper.py) in a new session, holding
  the job's GPU locks, that runs vLLM's server and ends it with the run.
It then writes the service file (the engine's address) and watches the engine until
Snakemake ends the job once its clients are done. The last round's job stops the engine
then; the Snakefile's onsuccess/onerror stop what is left, and the keeper ends an engine
whose run is gone (SIGKILL included). On Slurm a group is one cluster job: its engine lives
as long as that job, so there it is one engine per replica per round.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from contrastgen.backends.vllm_server import is_ready, serve_command
from contrastgen.codec import JsonRecord
from contrastgen.compute.devices import log_cpu_dtype, resolve_device
from contrastgen.compute.gpus import claim_gpus
from contrastgen.errors import UserError
from contrastgen.files import write_json
from contrastgen.processes import is_alive, job_workflow, started_at, wait_group_gone
from contrastgen.settings import GenerationSettings, GeneratorSettings

log = logging.getLogger(__name__)

# The engine job's settings ({"generator": ..., "generation": ...} as JSON): set by the
# Snakefile for the shell command of rule engine, which inherits it.
ENGINE_SETTINGS_ENV = "CONTRASTGEN_ENGINE_SETTINGS"
HOST = "127.0.0.1"  # an engine and its clients are one group job, on one node
# A start that reads a large checkpoint (Mixtral-8x7B: ~90 GB) from a slow disk.
START_TIMEOUT_S = 3600.0
POLL_S = 0.5


class EngineError(UserError):
    """The shared engine did not start, or is gone."""


@dataclass(frozen=True)
class EngineRecord(JsonRecord):
    """A running shared engine: what its registry and service files hold."""

    replica: int
    host: str
    base_url: str
    model: str  # the name it serves
    keeper_pid: int  # leads the engine's process group
    keeper_started: int  # clock ticks since boot: a reused pid has another
    owner_pid: int  # the snakemake whose run it serves
    owner_started: int
    fingerprint: str  # of its command line: settings that change the engine
    log: str

    @property
    def alive(self) -> bool:
        return self.host == socket.gethostname() and is_alive(self.keeper_pid, self.keeper_started)

    def gone(self) -> EngineError:
        """What its clients and its engine job say once it is gone."""
        return EngineError(
            f"the vLLM engine of replica {self.replica} ({self.base_url}) is gone; "
            f"its output is in {self.log}"
        )

    def owned_by(self, owner: tuple[int, int]) -> bool:
        return self.host == socket.gethostname() and (self.owner_pid, self.owner_started) == owner


def read_record(path: str | Path) -> EngineRecord | None:
    """The record at `path`; None when there is none or it is not one (a torn write)."""
    try:
        return EngineRecord.from_json(json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _failure(service: str | Path) -> str | None:
    """The error an engine job wrote into its service file instead of an address."""
    try:
        return json.loads(Path(service).read_text()).get("error")
    except (OSError, ValueError, AttributeError):
        return None


def context_length(generator: GeneratorSettings, generation: GenerationSettings) -> int:
    """The engine's max_model_len, fixed before any prompt is known: one row (prompt plus
    answer) never exceeds the token budget (a longer prompt stops the job naming
    generation.token_budget), and the GPU plan sizes the KV cache to hold the budget."""
    from contrastgen.compute.models import max_position_embeddings

    longest = max_position_embeddings(generator.model) or generation.token_budget
    return min(longest, generation.token_budget)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _fingerprint(argv: list[str], env: dict[str, str]) -> str:
    """What makes two engines interchangeable: the command line but its port, and the
    threads of a CPU engine."""
    port = argv.index("--port")
    shown = argv[:port] + argv[port + 2 :]
    return hashlib.sha256(json.dumps([shown, env.get("OMP_NUM_THREADS")]).encode()).hexdigest()[:16]


def settings_from_environment() -> tuple[GeneratorSettings, GenerationSettings]:
    """The engine job's generator and generation settings (ENGINE_SETTINGS_ENV)."""
    text = os.environ.get(ENGINE_SETTINGS_ENV)
    if not text:
        raise EngineError(f"{ENGINE_SETTINGS_ENV} is not set: rule engine runs from the Snakefile")
    settings = json.loads(text)
    return (
        GeneratorSettings.from_config(settings["generator"]),
        GenerationSettings.from_config(settings["generation"]),
    )


def ensure_engine(
    generator: GeneratorSettings,
    generation: GenerationSettings,
    replica: int,
    registry: str | Path,
    log_path: str | Path,
    threads: int,
    gpus: int = 0,
) -> EngineRecord:
    """This run's engine of `replica`, ready: the registry's when it is this run's and
    alive, else a new one on `gpus` GPUs, claimed only then (a reused engine's keeper
    holds its locks), whose keeper inherits the GPU locks."""
    owner = job_workflow()
    max_model_len = context_length(generator, generation)

    def command(port: int) -> tuple[list[str], dict[str, str]]:
        return serve_command(generator, HOST, port, max_model_len, threads, gpus, generation.seed)

    fingerprint = _fingerprint(*command(0))
    old = read_record(registry)
    if old is not None and old.alive:
        if old.owned_by(owner) and old.fingerprint == fingerprint:
            log.info("reusing this run's engine of replica %d at %s", replica, old.base_url)
            return wait_ready(old)
        stop_engine(old, "another run's or other settings'")
    log_cpu_dtype(generator.dtype, resolve_device(generator.device), "vllm")
    claim = claim_gpus(gpus, generator.gpu_lock_dir)  # sets CUDA_VISIBLE_DEVICES
    port = _free_port()
    argv, env = command(port)  # after the claim: env has CUDA_VISIBLE_DEVICES
    keeper_argv = [sys.executable, "-m", "contrastgen.backends.engine_keeper"]
    keeper_argv += ["--owner", f"{owner[0]}:{owner[1]}", "--", *argv]
    with open(log_path, "ab") as out:
        keeper = subprocess.Popen(
            keeper_argv,
            env=env,
            start_new_session=True,  # its own group: the run's end ends vLLM's processes too
            pass_fds=claim.fds,  # the GPU locks: held while the engine lives
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    record = EngineRecord(
        replica=replica,
        host=socket.gethostname(),
        base_url=f"http://{HOST}:{port}/v1",
        model=generator.server.model,
        keeper_pid=keeper.pid,
        keeper_started=started_at(keeper.pid) or 0,
        owner_pid=owner[0],
        owner_started=owner[1],
        fingerprint=fingerprint,
        log=str(log_path),
    )
    write_json(registry, record.to_json())
    log.info(
        "started the engine of replica %d (keeper %d, %d GPUs, context %d tokens): %s",
        replica,
        keeper.pid,
        gpus,
        max_model_len,
        " ".join(argv),
    )
    return wait_ready(record)


def wait_ready(record: EngineRecord, timeout_s: float = START_TIMEOUT_S) -> EngineRecord:
    """`record` once its server answers; EngineError when it exits or never answers."""
    started = time.monotonic()
    while not is_ready(record.base_url):
        if not record.alive:
            raise EngineError(
                f"the vLLM engine of replica {record.replica} exited while starting; "
                f"its output is in {record.log}"
            )
        if time.monotonic() - started > timeout_s:
            stop_engine(record, "unanswering")
            raise EngineError(
                f"the vLLM engine of replica {record.replica} did not answer within "
                f"{timeout_s:.0f}s; its output is in {record.log}"
            )
        time.sleep(POLL_S)
    log.info("engine of replica %d ready after %.1fs", record.replica, time.monotonic() - started)
    return record


def watch(record: EngineRecord) -> None:
    """Return never while the engine lives (Snakemake ends the job when its clients are
    done); EngineError once it is gone, which its clients see as refused connections."""
    while record.alive:
        time.sleep(POLL_S)
    raise record.gone()


def stop_engine(record: EngineRecord, why: str = "") -> None:
    """End the engine's process group (keeper, server, vLLM's engine processes)."""
    if not record.alive:
        return
    log.info("stopping %s engine of replica %d (keeper %d)", why, record.replica, record.keeper_pid)
    try:
        os.killpg(record.keeper_pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_group_gone(record.keeper_pid)


def stop_engines(registry_dir: str | Path) -> int:
    """The run's end (the Snakefile's onsuccess/onerror, in the snakemake that owns its
    engines): stop every engine this process owns; how many were running."""
    me = (os.getpid(), started_at(os.getpid()))
    stopped = 0
    for path in sorted(Path(registry_dir).glob("replica*.json")):
        record = read_record(path)
        if record is not None and record.owned_by(me) and record.alive:
            stop_engine(record, "the run's")
            stopped += 1
    return stopped


def connect(service: str | Path, timeout_s: float = START_TIMEOUT_S) -> EngineRecord:
    """A client's view of its round's engine: the service file the engine job writes once
    the engine answers (written by this run: a stale file of an earlier run is ignored)."""
    owner = job_workflow()
    started = time.monotonic()
    while True:
        failed = _failure(service)
        if failed:
            raise EngineError(f"the engine job of {service} failed: {failed}")
        record = read_record(service)
        if record is not None and record.owned_by(owner):
            if is_ready(record.base_url):
                return record
            if not record.alive:
                raise record.gone()
        if time.monotonic() - started > timeout_s:
            raise EngineError(f"no engine answered at {service} within {timeout_s:.0f}s")
        time.sleep(POLL_S)


class ReplicaService:
    """The engine job of one replica in one round (rule engine): ensure the engine, tell
    the clients where it is (or why there is none), watch it until Snakemake ends the job
    (SIGTERM, once its clients are done). The last round's job stops the engine then, so
    its GPUs are free as soon as the last client is done."""

    def __init__(self, service: str | Path, registry: str | Path, last_round: bool):
        self.service = Path(service)
        self.registry = Path(registry)
        self.last_round = last_round
        self.owner = job_workflow()  # now: once the job's shell is gone it has no ancestors

    def end(self) -> None:
        """The job's end (Snakemake's SIGTERM, or its shell gone)."""
        record = read_record(self.registry)
        if self.last_round and record is not None and record.owned_by(self.owner):
            stop_engine(record, "the last round's")

    def run(self, replica: int, log_path: str | Path, threads: int, gpus: int) -> None:
        signal.signal(signal.SIGTERM, lambda _n, _f: (self.end(), sys.exit(0)))
        try:
            generator, generation = settings_from_environment()
            record = ensure_engine(
                generator, generation, replica, self.registry, log_path, threads, gpus
            )
        except Exception as exc:  # the clients wait on the service file: tell them why
            write_json(self.service, {"error": str(exc) or type(exc).__name__})
            raise
        write_json(self.service, record.to_json())
        watch(record)


def client(generator: GeneratorSettings, service: str | Path):
    """A generation job's backend: an openai-backend client of its round's engine."""
    from contrastgen.backends.openai_backend import OpenAIBackend

    record = connect(service)
    return OpenAIBackend.for_engine(generator, record.base_url, record.model, record.replica)
