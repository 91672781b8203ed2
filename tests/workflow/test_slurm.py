"""The real workflow through a real single-node Slurm (sbatch, squeue), not a mock."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from contrastgen.files import read_jsonl

from .helpers import REPO, base_config, snakemake
from .slurm_cluster import local_slurm, unavailable_reason
from .test_vllm_workflow import engine_pids, wait_engines_gone

pytestmark = [pytest.mark.slurm, pytest.mark.e2e]

WHY_NOT = unavailable_reason()
if WHY_NOT:
    pytest.skip(f"no local Slurm: {WHY_NOT}", allow_module_level=True)

PROFILE = str(REPO / "profiles/slurm")
# The test node is this 2-CPU box: ask for what it has.
SET = ["generate:mem_mb=3000", "refine:mem_mb=3000", "validate:mem_mb=2000", "engine:mem_mb=4000"]
SMALL = ["--set-resources", *SET, "--default-resources", "mem_mb=1500", "runtime=20", "gpu=0"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with local_slurm(tmp_path_factory.mktemp("slurm")) as env:
        yield env


def slurm_config(work, generator_dir):
    lines = (REPO / "resources/corpus/sample.jsonl").read_text().splitlines()[:5]
    lines.append(json.dumps({"id": "too-short", "instruction": "go"}))
    (work / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    config = base_config()
    config["corpus"] = str(work / "corpus.jsonl")
    config["generator"].update(model=str(generator_dir), threads=1)
    config["ingest"]["shards"] = 2
    config["refine"].update(max_rounds=1, samples_per_prompt=1)
    config["generation"].update(max_new_tokens=32, samples_per_prompt=1)
    return config, lines


def test_dry_run_shows_the_gpu_requests_of_generation_jobs(cluster, tmp_path, generator_dir):
    config, _ = slurm_config(tmp_path, generator_dir)
    config["generator"].update(device="cuda", gpus_per_job=2)  # a GPU partition
    proc = snakemake(tmp_path, config, "-n", "--profile", PROFILE, env=cluster)
    jobs = proc.output.split("rule generate:")[1:]
    assert len(jobs) == 2 and all("gpu=2" in job.split("\n\n")[0] for job in jobs)
    assert all("runtime=240" in job.split("\n\n")[0] for job in jobs)

    # the shared engine: its job holds the GPUs and the model's memory, its clients neither
    config["generator"]["backend"] = "vllm"
    proc = snakemake(tmp_path, config, "-n", "--profile", PROFILE, env=cluster)
    engines = [job.split("\n\n")[0] for job in proc.output.split("rule engine:")[1:]]
    assert len(engines) == 2 and all("gpu=2" in job and "mem_mb=32000" in job for job in engines)
    clients = [job.split("\n\n")[0] for job in proc.output.split("rule generate:")[1:]]
    assert len(clients) == 2 and all("gpu=0" in job and "mem_mb=2000" in job for job in clients)


def test_workflow_runs_through_sbatch_with_the_same_accounting(cluster, tmp_path, generator_dir):
    config, lines = slurm_config(tmp_path, generator_dir)
    proc = snakemake(tmp_path, config, "--profile", PROFILE, *SMALL, env=cluster)
    records = list(read_jsonl(tmp_path / "results/contrastive.jsonl"))
    rejected = list(read_jsonl(tmp_path / "results/rejected.jsonl"))
    ids = [r["id"] for r in records] + [r["id"] for r in rejected]
    assert sorted(ids) == sorted(json.loads(x)["id"] for x in lines)
    assert len(set(ids)) == len(ids) and [r["id"] for r in rejected] == ["too-short"]
    stats = json.loads((tmp_path / "results/stats.json").read_text())
    assert stats["ingested"] == 5 == stats["complete"] + stats["partial"] + stats["failed"]

    # Every job went through sbatch: Slurm job ids in snakemake's log and Slurm's own.
    slurm_ids = set(re.findall(r"SLURM jobid (\d+)", proc.output))
    jobs_run = int(re.search(r"(\d+) of \1 steps \(100%\) done", proc.output)[1])
    assert len(slurm_ids) >= jobs_run - 1  # all but the local target rule `all`
    known = subprocess.run(
        ["squeue", "--states=all", "-h", "-o", "%i %T"], env=cluster, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    completed = {line.split()[0] for line in known.splitlines() if "COMPLETED" in line}
    assert slurm_ids <= completed
    # ...and each rule's own log names the Slurm job that wrote it.
    logged = {
        m for log in (tmp_path / "logs").rglob("*.log")
        for m in re.findall(r"slurm job (\d+) on ", log.read_text())
    }  # fmt: skip
    assert logged == slurm_ids


def slurm_jobs_of(log: Path) -> set[str]:
    return set(re.findall(r"slurm job (\d+) on ", log.read_text()))


def test_the_shared_engine_and_its_clients_run_as_one_slurm_job(
    cluster, tmp_path, generator_dir, vllm_python
):
    """backend: vllm with its shared engine through sbatch: each round's engine and its
    shards' clients are one Slurm job on one node; the engine lives as long as that job."""
    config, lines = slurm_config(tmp_path, generator_dir)
    config["generator"]["backend"] = "vllm"
    config["generator"]["vllm"].update(python=str(vllm_python), cpu_kv_cache_gib=1)
    before = engine_pids()
    snakemake(tmp_path, config, "--profile", PROFILE, *SMALL, env=cluster)
    records = list(read_jsonl(tmp_path / "results/contrastive.jsonl"))
    assert sorted(r["id"] for r in records) == sorted(
        json.loads(x)["id"] for x in lines if "too-short" not in x
    )
    stats = json.loads((tmp_path / "results/stats.json").read_text())
    assert stats["llm_prompts"] > 0 and stats["ingested"] == 5
    logs = tmp_path / "logs"
    for round_, clients in ((0, "generate/{}.log"), (1, "refine/round1/{}.log")):
        engine_log = logs / f"engine/round{round_}/replica0.log"
        (job,) = slurm_jobs_of(engine_log)
        for shard in ("000", "001"):  # the clients ran in the engine's Slurm job
            assert slurm_jobs_of(logs / clients.format(shard)) == {job}
        assert "started the engine of replica 0" in engine_log.read_text()
    assert not wait_engines_gone(before), "a Slurm job left its vLLM engine running"
