"""The workflow with generator.backend: openai against a real vLLM server (vLLM's own
OpenAI-compatible server from the vLLM environment, the embedded model, 127.0.0.1):
end to end, and a server killed mid-run whose rerun sends only what was not finished."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from vllm_servers import free_port, served_requests, server_generator, start_vllm_server

from contrastgen.files import read_jsonl

from .conftest import INSTRUCTIONS
from .helpers import REPO, base_config, dataset_llm_texts, snakemake
from .test_crash import cache_keys, wait_for_checkpoints

pytestmark = pytest.mark.e2e


def test_the_workflow_builds_the_dataset_through_a_running_server(
    tmp_path, generator_dir, vllm_server
):
    server, generator = vllm_server
    lines = [{"id": f"s{i}", "instruction": t} for i, t in enumerate(INSTRUCTIONS)]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(x) + "\n" for x in lines))
    config = base_config()
    config.update(corpus=str(corpus), generator=generator)
    config["ingest"]["shards"] = 2
    config["refine"]["max_rounds"] = 1
    before = served_requests(server.base_url)
    # no GPU resource at all: the generation jobs are clients and hold gpu=0
    snakemake(tmp_path, config, "--cores", "2")

    llm = dataset_llm_texts(tmp_path, [x["id"] for x in lines])
    assert len(llm) >= len(INSTRUCTIONS)
    assert all("<|im" not in t and "POSITIVE:" not in t for t in llm)
    stats = json.loads((tmp_path / "results/stats.json").read_text())
    assert stats["llm_prompts"] >= len(INSTRUCTIONS) and stats["complete"] > 0
    # every row the jobs asked for was answered by this server: one request per row
    rows = 0
    for pattern, samples in (
        ("results/generate/*.jsonl", config["generation"]["samples_per_prompt"]),
        ("results/refine/round1/*.jsonl", config["refine"]["samples_per_prompt"]),
    ):
        for path in tmp_path.glob(pattern):
            rows += samples * sum(r["asked_llm"] and not r["cached"] for r in read_jsonl(path))
    assert served_requests(server.base_url) - before == rows > 0
    log = (tmp_path / "logs/generate/000.log").read_text()
    assert "'retries': 0" in log and "Traceback" not in log


def start_workflow(tmp_path: Path, config: dict) -> subprocess.Popen:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    bindir = Path(sys.executable).parent
    cmd = [str(bindir / "snakemake"), "--cores", "2", "-s", str(REPO / "Snakefile")]
    cmd += ["-d", str(tmp_path), "--configfile", str(tmp_path / "config.yaml")]
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.Popen(
        cmd, cwd=tmp_path, env=env, start_new_session=True, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def test_a_server_killed_mid_run_then_back_gets_only_the_unfinished_items(
    tmp_path, generator_dir, vllm_python
):
    lines = (REPO / "resources/corpus/sample.jsonl").read_text().splitlines()[:14]
    (tmp_path / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    port = free_port()
    # one request at a time, so items finish one by one; one quick retry, so the job
    # gives up soon after the server is gone
    generator = server_generator(
        generator_dir, vllm_python, port, max_concurrency=1, retries=1, retry_backoff_s=0.1
    )
    config = base_config()
    config.update(corpus=str(tmp_path / "corpus.jsonl"), generator=generator)
    config["ingest"]["shards"] = 1
    config["refine"]["max_rounds"] = 0
    config["generation"].update(samples_per_prompt=2, max_new_tokens=48)
    cache_file = tmp_path / "cache/generate/round0-shard000.jsonl"

    server = start_vllm_server(generator, tmp_path / "server1.log")
    proc = start_workflow(tmp_path, config)
    try:
        wait_for_checkpoints(proc, cache_file, 3)
    finally:
        server.stop()  # the whole server, engine processes included, SIGKILLed
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, "the run went on without its server"
    before = cache_keys(cache_file)
    assert 3 <= len(before) < 14, "killed in the middle of generation"
    log = (tmp_path / "logs/generate/000.log").read_text()
    # one line naming the server and its last answer; no traceback
    assert f"generator.server http://127.0.0.1:{port}/v1: /completions after 2 tries" in log
    assert "Traceback" not in log, log[-3000:]
    assert not (tmp_path / "results/generate/000.jsonl").exists()

    with start_vllm_server(generator, tmp_path / "server2.log") as server:
        snakemake(tmp_path, config, "--cores", "2")
        sent = served_requests(server.base_url)
    # the new server answered exactly the rows of the items not finished before
    assert sent == 2 * (14 - len(before))
    records = list(read_jsonl(tmp_path / "results/contrastive.jsonl"))
    assert sorted(r["id"] for r in records) == sorted(json.loads(x)["id"] for x in lines)
    stats = json.loads((tmp_path / "results/stats.json").read_text())
    assert stats["cache_hits"] == len(before)
    assert stats["generated_items"] == 14 - len(before)
    assert sorted(set(cache_keys(cache_file))) == sorted(cache_keys(cache_file))  # none twice
