"""The real workflow through a real single-node Slurm (sbatch, squeue), not a mock."""

import json
import re
import subprocess

import pytest

from contrastgen.files import read_jsonl

from .helpers import REPO, base_config, snakemake
from .slurm_cluster import local_slurm, unavailable_reason

pytestmark = [pytest.mark.slurm, pytest.mark.e2e]

WHY_NOT = unavailable_reason()
if WHY_NOT:
    pytest.skip(f"no local Slurm: {WHY_NOT}", allow_module_level=True)

PROFILE = str(REPO / "profiles/slurm")
# The test node is this 2-CPU box: ask for what it has.
SMALL = [
    *("--set-resources", "generate:mem_mb=3000", "refine:mem_mb=3000", "validate:mem_mb=2000"),
    *("--default-resources", "mem_mb=1500", "runtime=20", "gpu=0"),
]


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
