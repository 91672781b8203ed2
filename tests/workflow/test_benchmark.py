"""`snakemake benchmark` for real on a tiny sample: every strategy job, summary, report, plot."""

import json

import pytest

from .helpers import REPO, base_config, snakemake

pytestmark = pytest.mark.e2e


def test_benchmark_target_writes_summary_report_and_plot(tmp_path, generator_dir, vllm_python):
    config = base_config()
    config["corpus"] = str(REPO / "resources/corpus/sample.jsonl")
    config["generator"]["model"] = str(generator_dir)
    config["generator"]["vllm"].update(python=str(vllm_python), cpu_kv_cache_gib=1)
    config["generation"]["max_new_tokens"] = 48  # the sampled mode's cap
    config["benchmark"].update(sample_size=4, max_new_tokens=8, batch_size=4, vllm=True)
    snakemake(tmp_path, config, "benchmark", "--cores", "2", "--resources", "gpu=0")
    out = tmp_path / "results/benchmark"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sample_size"] == 4 and summary["max_new_tokens"] == 8
    assert set(summary["strategies"]) == {*config["benchmark"]["strategies"], "vllm"}
    sampled = summary["sampled"]
    assert set(sampled["strategies"]) == {*config["benchmark"]["sampled_strategies"], "vllm"}
    runs = [*summary["strategies"].items(), *sampled["strategies"].items()]
    for name, s in runs:
        if name == "continuous" and not s["available"]:
            continue
        assert s["tokens_per_s"] > 0 and s["load_s"] > 0 and s["snakemake_s"] > 0, name
        assert s["peak_rss_mb"] > 0 and 0 <= s["finished_share"] <= 1
    greedy_vllm = summary["strategies"]["vllm"]
    assert greedy_vllm["generated_tokens"] == 4 * 8  # fixed length: every row 8 tokens
    assert greedy_vllm["finished_share"] == 0.0  # ...so none reached its end of turn
    assert sampled["strategies"]["vllm"]["rows"] == 4 * config["generation"]["samples_per_prompt"]
    assert summary["speedup_vs_sequential"]["sequential"] == 1.0
    assert sampled["speedup"]["bucketed"] == 1.0 and sampled["job_speedup"]["bucketed"] == 1.0
    assert 0.0 <= summary["greedy_agreement"] <= 1.0
    assert (out / "tokens_per_s.png").read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.md").read_text()
    assert "| true_batch |" in report and "greedy agreement" in report
    assert "## sampled, real settings" in report and "| vllm |" in report
    sample = [json.loads(line) for line in (out / "sample.jsonl").read_text().splitlines()]
    assert len(sample) == 4
