"""Reruns cost only what changed: grown corpus, changed thresholds, changed generation."""

import json
import time

import pytest

from contrastgen.files import read_jsonl

from .helpers import REPO, base_config, snakemake

pytestmark = pytest.mark.e2e


def sample_lines(n: int) -> list[str]:
    lines = (REPO / "resources/corpus/sample.jsonl").read_text().splitlines()
    return [line for line in lines if line.strip()][:n]


def small_config(work, generator_dir) -> dict:
    config = base_config()
    config["corpus"] = str(work / "corpus.jsonl")
    config["generator"]["model"] = str(generator_dir)
    config["ingest"]["shards"] = 2
    config["refine"]["max_rounds"] = 1
    config["refine"]["samples_per_prompt"] = 2
    config["generation"]["max_new_tokens"] = 48
    config["generation"]["samples_per_prompt"] = 2
    return config


def stats(work) -> dict:
    return json.loads((work / "results/stats.json").read_text())


@pytest.fixture(scope="module")
def grown(tmp_path_factory, generator_dir):
    """A full run on 24 instructions, then 6 appended and the workflow run again."""
    work = tmp_path_factory.mktemp("incremental")
    config = small_config(work, generator_dir)
    lines = sample_lines(30)
    (work / "corpus.jsonl").write_text("\n".join(lines[:24]) + "\n")
    started = time.perf_counter()
    snakemake(work, config, "--cores", "2", "--resources", "gpu=0")
    first_s = time.perf_counter() - started
    first = stats(work)
    (work / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    plan = snakemake(work, config, "-n", "--cores", "2", "--resources", "gpu=0")
    started = time.perf_counter()
    snakemake(work, config, "--cores", "2", "--resources", "gpu=0")
    second_s = time.perf_counter() - started
    print(f"first run {first_s:.0f}s, rerun after appending 6: {second_s:.0f}s")
    return work, config, first, stats(work), plan.output


def test_appended_instructions_are_the_only_ones_sent_to_the_llm(grown):
    work, _, first, second, plan = grown
    assert first["ingested"] == 24 and first["generated_items"] == 24
    assert first["cache_hits"] == 0
    assert second["ingested"] == 30
    assert len(list(read_jsonl(work / "results/contrastive.jsonl"))) == 30
    assert second["generated_items"] <= 6
    # every earlier item-round prompt was answered from the cache
    assert second["cache_hits"] >= first["llm_prompts"]
    assert "Updated input files: corpus.jsonl" in plan or "corpus.jsonl" in plan


def test_a_changed_speed_knob_reruns_nothing(grown):
    """Batch sizes, generation's batching, threads and the server client's concurrency
    change how fast a step runs, not what it writes: a dry run after changing them
    schedules no job."""
    work, config, _, _, _ = grown
    config = json.loads(json.dumps(config))
    config["validator"]["batch_size"] = 7
    config["generation"]["batch_size"] = 5
    config["generation"]["strategy"] = "true_batch"
    config["generation"]["token_budget"] = 8192
    config["generator"]["threads"] = 3
    config["generator"]["server"]["max_concurrency"] = 5
    plan = snakemake(work, config, "-n", "--cores", "2", "--resources", "gpu=0")
    assert "Nothing to be done" in plan.output, plan.output[-2000:]


def test_new_thresholds_revalidate_without_regenerating_round_0(grown):
    work, config, _, before, _ = grown
    config = json.loads(json.dumps(config))
    config["validator"]["thresholds"]["negative_max_similarity"] = 0.99
    plan = snakemake(work, config, "-n", "--cores", "2", "--resources", "gpu=0")
    assert "Params have changed since last execution" in plan.output
    assert "rule generate:" not in plan.output  # round 0's candidates stay as they are
    assert "rule validate:" in plan.output
    snakemake(work, config, "--cores", "2", "--resources", "gpu=0")
    after = stats(work)
    assert after["ingested"] == 30
    assert after["prompts_from_earlier_runs"] == before["per_round"]["0"]["prompted_items"]
    logs = "".join(p.read_text() for p in (work / "logs/validate/round0").glob("*.log"))
    assert "0 computed" in logs  # similarities all came from the cache: no model load


def test_new_generation_params_regenerate(grown):
    work, config, _, _, _ = grown
    config = json.loads(json.dumps(config))
    config["generation"]["temperature"] = 0.5
    plan = snakemake(work, config, "-n", "--cores", "2", "--resources", "gpu=0")
    assert "rule generate:" in plan.output
    assert "Params have changed since last execution" in plan.output
