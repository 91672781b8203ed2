"""The workflow end to end with generator.backend: vllm: the real vLLM CPU engine in the
vLLM environment, started by each generation job (~4 min on 2 cores)."""

import json
import re
import subprocess

import pytest

from .conftest import INSTRUCTIONS
from .helpers import base_config, dataset_llm_texts, snakemake

pytestmark = pytest.mark.e2e


def engine_pids() -> set[str]:
    """Pids of the vLLM engine processes on this machine."""
    found = subprocess.run(["pgrep", "-f", "VLLM::EngineCore"], capture_output=True, text=True)
    return set(found.stdout.split())


def test_the_vllm_backend_builds_the_dataset(tmp_path, generator_dir, vllm_python):
    lines = [{"id": f"v{i}", "instruction": t} for i, t in enumerate(INSTRUCTIONS)]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(x) + "\n" for x in lines))
    config = base_config()
    config["corpus"] = str(corpus)
    config["generator"]["model"] = str(generator_dir)
    config["generator"]["backend"] = "vllm"
    config["generator"]["vllm"].update(python=str(vllm_python), cpu_kv_cache_gib=1)
    config["ingest"]["shards"] = 2
    config["refine"]["max_rounds"] = 1
    before = engine_pids()
    proc = snakemake(tmp_path, config, "--cores", "2", "--resources", "gpu=0")

    llm = dataset_llm_texts(tmp_path, [x["id"] for x in lines])
    assert len(llm) >= len(INSTRUCTIONS)
    for text in llm:  # readable English from the byte-level tokenizer, not 'Ġ' soup
        assert "Ġ" not in text and "<|im" not in text, text
    worded = [t for t in llm if len(re.findall(r"[A-Za-z]+", t)) >= 3 and " " in t]
    assert len(worded) >= 0.9 * len(llm), llm
    stats = json.loads((tmp_path / "results/stats.json").read_text())
    assert stats["llm_prompts"] >= len(INSTRUCTIONS) and stats["complete"] > 0
    log = (tmp_path / "logs/generate/000.log").read_text()
    assert "vLLM engine loaded" in log, log[-2000:]
    # engines that were there before (the session's vLLM server) are not this run's
    left = engine_pids() - before
    assert not left, f"a generation job left its vLLM engine running: {left}"
    assert "Finished" in proc.output or proc.returncode == 0
