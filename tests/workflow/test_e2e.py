"""The real workflow with the real embedded models on a small corpus (slow: ~2-4 min)."""

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from contrastgen.cache import ItemCache
from contrastgen.files import read_jsonl
from contrastgen.records import (
    IngestItem,
    ItemState,
    MinedNegatives,
    OutputRecord,
    RoundCandidates,
)

from .conftest import INSTRUCTIONS
from .helpers import REPO, base_config, snakemake
from .test_crash import cache_keys

pytestmark = pytest.mark.e2e


def record_schema():
    return yaml.safe_load((REPO / "workflow/schemas/record.schema.yaml").read_text())


def test_every_input_line_is_accounted_for_exactly_once(e2e_run):
    work, lines = e2e_run
    out = list(read_jsonl(work / "results/contrastive.jsonl"))
    rejected = list(read_jsonl(work / "results/rejected.jsonl"))
    ids = [r["id"] for r in out]
    assert sorted(ids) == sorted(x["id"] for x in lines)
    assert len(set(ids)) == len(ids)
    assert {r["reason"].split(" ")[0] for r in rejected} == {"invalid", "too"}
    assert [r["source"].rsplit(":", 1)[1] for r in rejected] == ["8", "9"]


def test_records_follow_the_schema_and_duplicates_share_one_generation(e2e_run):
    work, _ = e2e_run
    out = {r["id"]: r for r in read_jsonl(work / "results/contrastive.jsonl")}
    schema = record_schema()
    for record in out.values():
        jsonschema.validate(record, schema)
        assert len(record["positives"]) <= 2 and len(record["negatives"]) <= 1
        valid = {c["text"] for c in record["candidates"] if c["valid"]}
        assert set(record["positives"]) | set(record["negatives"]) <= valid
    assert out["r0"]["split"] == "train"  # passthrough field
    assert out["dup"]["candidates"] == out["r0"]["candidates"]  # generated once...
    assert out["dup"]["instruction"] == out["r0"]["instruction"].upper()  # ...own text


def test_stats_and_refinement_round(e2e_run):
    work, lines = e2e_run
    stats = json.loads((work / "results/stats.json").read_text())
    assert stats["ingested"] == len(lines) == stats["complete"] + stats["partial"] + stats["failed"]
    assert stats["rejected"] == 2
    assert stats["unique_items"] == len(INSTRUCTIONS)
    r0, r1 = stats["per_round"]["0"], stats["per_round"]["1"]
    assert r0["prompted_items"] == len(INSTRUCTIONS)
    # round 1 prompts exactly the items that round 0 left incomplete
    assert r1["prompted_items"] == len(INSTRUCTIONS) - r0["items_completed"]
    assert stats["llm_prompts"] == r0["prompted_items"] + r1["prompted_items"]
    assert stats["generated_items"] == len(INSTRUCTIONS) and stats["cache_hits"] == 0
    assert set(stats["stage_wall_s"]) >= {"ingest", "generate", "validate", "refine"}
    logs = "".join((work / f"logs/generate/{s}.log").read_text() for s in ("000", "001"))
    assert "tok_s=" in logs  # the progress bar shows tokens/s


def claims(log_text: str) -> list[tuple[str, float, float]]:
    """(ids, claimed at, released at) from a generation job's log."""
    taken = re.findall(r"gpu claim: ids=(\S+) source=locks pid=\d+ at=([\d.]+)", log_text)
    freed = re.findall(r"gpu release: ids=(\S+) pid=\d+ at=([\d.]+)", log_text)
    assert len(taken) == len(freed) == 1, log_text[-2000:]
    return [(taken[0][0], float(taken[0][1]), float(freed[0][1]))]


def test_concurrent_generation_jobs_hold_disjoint_gpus(e2e_run):
    work, _ = e2e_run
    (a,) = claims((work / "logs/generate/000.log").read_text())
    (b,) = claims((work / "logs/generate/001.log").read_text())
    assert {a[0], b[0]} == {"0", "1"}, "each job got its own GPU id"
    assert a[1] < b[2] and b[1] < a[2], "the two generation jobs ran at the same time"


def test_end_of_run_summary_and_exports(e2e_run):
    work, lines = e2e_run
    stats = json.loads((work / "results/stats.json").read_text())
    out = (work / "snakemake.out").read_text()
    assert "contrastgen run summary" in out
    assert f"{stats['ingested']} ingested ({stats['unique_items']} unique)" in out
    assert "GPU hours" in out
    import pyarrow.parquet as pq

    rows = pq.read_table(work / "results/contrastive.parquet").to_pylist()
    assert len(rows) == stats["ingested"]
    assert not (work / "results/avdn_paraphrases.json").exists()  # JSONL corpus: no AVDN


def test_records_say_what_made_them_and_the_card_describes_the_parquet(e2e_run, tmp_path):
    """Every record names its settings; the dataset card's header matches the parquet,
    which the `datasets` library loads as a trainer would."""
    from datasets import load_dataset

    work, _ = e2e_run
    stats = json.loads((work / "results/stats.json").read_text())
    made = stats["made_by"]
    assert made["generator"] == {"model": "SmolLM2-135M-Instruct", "backend": "transformers"}
    assert set(made["validator"]["thresholds"]) >= {"positive_min_similarity"}
    assert all(r["made_by"] == made for r in read_jsonl(work / "results/contrastive.jsonl"))
    (judged,) = stats["judged_sets"]  # validator.judged: [bundled]
    assert judged["name"] == "bundled"
    assert judged["positive"]["pairs"] >= 50 and 0 < judged["positive"]["precision"] <= 1
    table = work / "results/contrastive.parquet"
    ds = load_dataset("parquet", data_files=str(table), split="train", cache_dir=str(tmp_path))
    assert ds.num_rows == stats["ingested"]
    card = (work / "results/README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    info = header["dataset_info"]
    assert [f["name"] for f in info["features"]] == ds.column_names
    assert info["splits"] == [{"name": "train", "num_examples": ds.num_rows}]
    assert made["hash"] in card and "Judged precision" in card
    per_origin = stats["per_origin"]
    assert sum(s["share_of_kept"] for k, s in per_origin.items() if k.endswith("_positive")) in (
        0,
        pytest.approx(1.0, abs=0.01),
    )


def stage_files_read_back_as_their_types(work: Path) -> None:
    """Each stage's output, read with its record type and written again, is the same
    JSON: the types are the files' format, not a description of it."""
    kinds = [
        ("results/ingest/0*.jsonl", IngestItem),
        ("results/generate/*.jsonl", RoundCandidates),
        ("results/validate/round*/*.jsonl", ItemState),
        ("results/contrastive.jsonl", OutputRecord),
        ("results/mined/*.jsonl", MinedNegatives),
        ("results/refine/round*/*.jsonl", RoundCandidates),
    ]
    for pattern, cls in kinds:
        paths = sorted(work.glob(pattern))
        assert paths or "/mined/" in pattern or "/refine/" in pattern, pattern
        for path in paths:
            for record in read_jsonl(path):
                assert cls.from_json(record).to_json() == record, (path, record)


def test_every_file_between_stages_reads_back_as_its_type(e2e_run):
    work, _ = e2e_run
    stage_files_read_back_as_their_types(work)
    assert list(work.glob("results/mined/*.jsonl")) and list(work.glob("results/refine/*/*"))


def test_a_run_with_unparsed_answers_follows_the_schema_and_the_types(tmp_path, generator_dir):
    """A real run (ingest, generate, validate, merge) in which one model answer has no
    line a candidate can be read from. The real model gives such answers, but not on
    demand, so that one answer is put in the per-item cache where an earlier run's
    answer would be (a test double for the model's words only); everything else runs."""
    lines = [{"id": f"u{i}", "instruction": t} for i, t in enumerate(INSTRUCTIONS[:2])]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(x) + "\n" for x in lines))
    config = base_config()
    config["corpus"] = str(corpus)
    config["generator"]["model"] = str(generator_dir)
    config["ingest"]["shards"] = 1
    config["refine"]["max_rounds"] = 0
    config["generation"]["max_new_tokens"] = 64
    snakemake(tmp_path, config, "--cores", "2", "--resources", "gpu=0")
    key = cache_keys(tmp_path / "cache/generate/round0-shard000.jsonl")[0]
    chatter = {"text": "\nSure, here you go! Have a nice flight.", "new_tokens": 12}
    ItemCache(tmp_path / "cache", "generate", "zz-earlier-run").put_many(
        [(key, [{**chatter, "finished": True}] * config["generation"]["samples_per_prompt"])]
    )
    # generate again (it reads its answers from the cache) and everything after it
    snakemake(tmp_path, config, "--forcerun", "generate", "--cores", "2", "--resources", "gpu=0")
    log = (tmp_path / "logs/generate/000.log").read_text()
    assert "'sent_to_llm': 0, 'cache_hits': 2" in log

    schema = record_schema()
    out = list(read_jsonl(tmp_path / "results/contrastive.jsonl"))
    for record in out:
        jsonschema.validate(record, schema)
    unparsed = [c for r in out for c in r["candidates"] if c["kind"] == "unparsed"]
    assert unparsed and unparsed[0]["text"] == chatter["text"], out
    assert unparsed[0]["reasons"] == [{"code": "unparseable"}]
    stage_files_read_back_as_their_types(tmp_path)
