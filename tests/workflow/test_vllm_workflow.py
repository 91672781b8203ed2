"""The workflow end to end with generator.backend: vllm and its shared engine (the
default): the real vLLM CPU engine, vLLM's OpenAI server from the vLLM environment, started
once for the run and served to every generate and refine job; an engine killed in the
middle of a round; a run SIGKILLed in the middle of a round, checked in the process table."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from contrastgen.backends.shared_engine import read_record
from contrastgen.files import read_jsonl

from .conftest import INSTRUCTIONS
from .helpers import REPO, base_config, dataset_llm_texts, snakemake
from .test_crash import cache_keys, wait_for_checkpoints
from .test_server_workflow import start_workflow

pytestmark = pytest.mark.e2e

# vLLM's server, its engine processes and the keeper that ends them with the run.
ENGINE_PROCESSES = "VLLM::|vllm.entrypoints.openai.api_server|contrastgen.backends.engine_keeper"


def engine_pids() -> set[str]:
    """Pids of vLLM engine processes (and keepers) on this machine."""
    found = subprocess.run(["pgrep", "-f", ENGINE_PROCESSES], capture_output=True, text=True)
    return set(found.stdout.split())


def wait_engines_gone(before: set[str], timeout_s: float = 15) -> set[str]:
    """Engine processes that are not `before`'s (the session's own vLLM server), once
    none is left or after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while (left := engine_pids() - before) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def vllm_config(tmp_path, generator_dir, vllm_python, lines: list[str]) -> dict:
    (tmp_path / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    config = base_config()
    config["corpus"] = str(tmp_path / "corpus.jsonl")
    config["generator"].update(backend="vllm", model=str(generator_dir))
    config["generator"]["vllm"].update(python=str(vllm_python), cpu_kv_cache_gib=1)
    assert config["generator"]["vllm"]["shared_engine"] is True  # the default
    return config


def engine_log_lines(tmp_path, pattern: str) -> list[str]:
    logs = sorted((tmp_path / "logs/engine").glob("round*/replica*.log"))
    return [line for log in logs for line in log.read_text().splitlines() if pattern in line]


def test_one_engine_serves_every_round(tmp_path, generator_dir, vllm_python):
    lines = [json.dumps({"id": f"v{i}", "instruction": t}) for i, t in enumerate(INSTRUCTIONS)]
    config = vllm_config(tmp_path, generator_dir, vllm_python, lines)
    config["ingest"]["shards"] = 2
    config["refine"]["max_rounds"] = 1
    before = engine_pids()
    proc = snakemake(tmp_path, config, "--cores", "2", "--resources", "gpu=0")

    llm = dataset_llm_texts(tmp_path, [f"v{i}" for i in range(len(INSTRUCTIONS))])
    assert len(llm) >= len(INSTRUCTIONS)
    for text in llm:  # readable English from the byte-level tokenizer, not 'Ġ' soup
        assert "Ġ" not in text and "<|im" not in text, text
    worded = [t for t in llm if len(re.findall(r"[A-Za-z]+", t)) >= 3 and " " in t]
    assert len(worded) >= 0.9 * len(llm), llm
    stats = json.loads((tmp_path / "results/stats.json").read_text())
    assert stats["llm_prompts"] >= len(INSTRUCTIONS) and stats["complete"] > 0
    # one engine for both rounds and both shards: round 1's engine job reused round 0's
    assert len(engine_log_lines(tmp_path, "started the engine of replica 0")) == 1
    assert len(engine_log_lines(tmp_path, "reusing this run's engine of replica 0")) == 1
    assert len(engine_log_lines(tmp_path, "stopping the last round's engine")) == 1
    assert "Terminating service job" in proc.output
    for shard in ("000", "001"):  # the jobs were the engine's clients
        log = (tmp_path / f"logs/generate/{shard}.log").read_text()
        assert "'retries': 0" in log and "Traceback" not in log, log[-2000:]
    assert not read_record(tmp_path / "logs/engine/replica0.json").alive
    assert not wait_engines_gone(before), "the run left its vLLM engine running"


def test_an_engine_killed_mid_round_and_a_sigkilled_run_lose_nothing(
    tmp_path, generator_dir, vllm_python
):
    """The engine dies mid-round: its client fails with one line. The rerun starts a new
    engine; snakemake SIGKILLed mid-round leaves no engine process. The last rerun completes
    with every id once and the cache hits equal to what had finished."""
    lines = (REPO / "resources/corpus/sample.jsonl").read_text().splitlines()[:14]
    config = vllm_config(tmp_path, generator_dir, vllm_python, lines)
    config["ingest"]["shards"] = 1
    config["refine"]["max_rounds"] = 0
    config["generation"].update(samples_per_prompt=2, max_new_tokens=48)
    # one request at a time, so items finish one by one; one quick retry, so the client
    # gives up soon after its engine is gone
    config["generator"]["server"].update(max_concurrency=1, retries=1, retry_backoff_s=0.1)
    cache_file = tmp_path / "cache/generate/round0-shard000.jsonl"
    registry = tmp_path / "logs/engine/replica0.json"
    before = engine_pids()

    proc = start_workflow(tmp_path, config)
    try:
        wait_for_checkpoints(proc, cache_file, 3)
    finally:
        engine = read_record(registry)
        os.killpg(engine.keeper_pid, signal.SIGKILL)  # the engine, its processes too
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, "the run went on without its engine"
    finished = cache_keys(cache_file)
    assert 3 <= len(finished) < 14, "killed in the middle of the round"
    log = (tmp_path / "logs/generate/000.log").read_text()
    # one line naming the engine and its last answer; no traceback
    assert f"the vLLM engine of replica 0 {engine.base_url}: /completions after 2 tries" in log
    assert "Traceback" not in log, log[-3000:]
    assert not (tmp_path / "results/generate/000.jsonl").exists()
    assert not wait_engines_gone(before)

    # a rerun starts a new engine; snakemake SIGKILLed (alone) in the middle of the round
    proc = start_workflow(tmp_path, config)
    try:
        wait_for_checkpoints(proc, cache_file, len(finished) + 2)
        second = read_record(registry)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert second.keeper_pid != engine.keeper_pid
    # the keeper ends the engine once its run is gone: nothing left in the process table
    assert not wait_engines_gone(before), "a SIGKILLed run left its vLLM engine running"
    assert not (tmp_path / "results/generate/000.jsonl").exists()

    snakemake(tmp_path, config, "--unlock", "--cores", "1")
    finished = cache_keys(cache_file)
    assert len(finished) < 14
    snakemake(tmp_path, config, "--cores", "2")
    records = list(read_jsonl(tmp_path / "results/contrastive.jsonl"))
    assert sorted(r["id"] for r in records) == sorted(json.loads(x)["id"] for x in lines)
    stats = json.loads((tmp_path / "results/stats.json").read_text())
    assert stats["cache_hits"] == len(finished)
    assert stats["generated_items"] == 14 - len(finished)
    assert sorted(set(cache_keys(cache_file))) == sorted(cache_keys(cache_file))  # none twice
    assert not wait_engines_gone(before)
