"""How the workflow schedules generation, decided once when the Snakefile is parsed: the
device its jobs are for, the `gpu` resource each holds, its threads, and, with
generator.gpus_per_job: auto, the planner's layout (reads config.json only). The rules
ask this one object; nothing else decides it."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from contrastgen.compute.devices import scheduled_device
from contrastgen.compute.gpus import gpu_compute_capability, gpu_memory_bytes
from contrastgen.compute.planner import Placement, PlanError, VllmPlacement, place
from contrastgen.errors import ConfigError
from contrastgen.settings import GeneratorSettings

# Where Snakemake does not say how many GPUs it may hand out (a Slurm submit host
# without --resources), a replica's GPUs are not bounded by the box.
UNBOUNDED_GPUS = 1024


@dataclass(frozen=True)
class GenerationSchedule:
    """What the generate, refine and benchmark rules declare and pass on."""

    device: str  # cpu or cuda: what the generation jobs are scheduled for
    gpus_per_job: int  # their `gpu` resource: 0 on a CPU, and for a server's clients
    threads: int  # generator.threads; 1 for a server's client, 0 for the shared engine's
    layout: Placement | VllmPlacement | None = None  # the plan, with gpus_per_job: auto
    # The shared engine (generator.vllm.shared_engine): one per replica, each holding
    # `engine_gpus` and `engine_threads`; the generation jobs are its clients, which only
    # wait, so they hold no GPU and no core. replicas 0: every job loads its own engine.
    replicas: int = 0
    engine_gpus: int = 0
    engine_threads: int = 0

    def replica_of(self, shard: str) -> int:
        """The replica whose engine serves `shard` (round-robin over the shard number)."""
        return int(shard) % max(1, self.replicas)

    def token_budget(self, configured: int | None) -> int | None:
        """generation.token_budget as the jobs run it: the transformers plan's chosen
        per-replica budget, else the configured one."""
        return self.layout.batch_tokens if isinstance(self.layout, Placement) else configured

    def vllm_parallel(self) -> dict[str, int]:
        """generator.vllm's tensor and pipeline parallel sizes from the vLLM plan (empty
        without one: tensor parallel over the job's GPUs)."""
        if not isinstance(self.layout, VllmPlacement):
            return {}
        chosen = self.layout.chosen
        return {
            "tensor_parallel": chosen.tensor_parallel,
            "pipeline_parallel": chosen.pipeline_parallel,
        }


def schedule(
    generator: GeneratorSettings,
    token_budget: int,
    schedulable_gpus: int | None,
    host_gpus: int,
    shards: int = 1,
) -> GenerationSchedule:
    """The schedule for `schedulable_gpus` (what `--resources gpu=N` or this host offers;
    None where neither says) and the `host_gpus` this host lists; `shards`: the jobs of a
    round, which bound the shared engine's replicas."""
    own_engines = _own_engines(generator, token_budget, schedulable_gpus, host_gpus)
    if not generator.uses_shared_engine:
        return own_engines
    per_replica = own_engines.gpus_per_job
    if per_replica == 0:
        replicas = 1  # a CPU box: one engine takes every core
    else:  # as many as `--resources gpu=N` holds at once (one without it: a Slurm host)
        replicas = max(1, min(shards, (schedulable_gpus or per_replica) // per_replica))
    return GenerationSchedule(
        own_engines.device,
        gpus_per_job=0,
        threads=0,
        layout=own_engines.layout,
        replicas=replicas,
        engine_gpus=per_replica,
        engine_threads=own_engines.threads,
    )


def _own_engines(
    generator: GeneratorSettings,
    token_budget: int,
    schedulable_gpus: int | None,
    host_gpus: int,
) -> GenerationSchedule:
    """The schedule of jobs that each load their own engine (or a server's clients)."""
    device = scheduled_device(generator.device, host_gpus)
    if generator.uses_server:
        return GenerationSchedule(device, 0, 1)
    if device == "cpu":
        return GenerationSchedule(device, 0, generator.threads)
    if generator.gpus_per_job != "auto":
        return GenerationSchedule(device, int(generator.gpus_per_job), generator.threads)
    layout = plan_layout(generator, token_budget, schedulable_gpus)
    return GenerationSchedule(device, layout.gpus_per_replica, generator.threads, layout)


def plan_layout(
    generator: GeneratorSettings, token_budget: int, schedulable_gpus: int | None
) -> Placement | VllmPlacement:
    """The planner's layout of the generator on the GPUs Snakemake may hand out; the
    token budget is chosen with the replicas where their number is known."""
    memory = generator.gpu_memory
    if memory == "auto":
        memory = gpu_memory_bytes()
        if memory is None:
            raise ConfigError(
                "generator.gpu_memory: 'auto' needs nvidia-smi; give the size, e.g. 11GiB"
            )
    try:
        layout = place(
            generator.backend,
            generator.model,
            schedulable_gpus or UNBOUNDED_GPUS,
            memory,
            batch_tokens=token_budget,
            quantization=generator.quantization,
            dtype=generator.dtype,
            choose_budget=schedulable_gpus is not None,
            gpu_memory_utilization=generator.vllm.gpu_memory_utilization,
            compute_capability=gpu_compute_capability(),
        )
    except PlanError as exc:
        raise ConfigError(f"generator.gpus_per_job: auto: {exc}") from exc
    if schedulable_gpus is not None:
        print(
            f"generation plan: {layout.gpus_per_replica} GPUs per job, {layout.replicas} "
            f"jobs at once on gpu={schedulable_gpus}; {layout.note}",
            file=sys.stderr,
        )
    return layout
