"""The real workflow with the real embedded models on a small corpus (slow: ~2-4 min)."""

import json
import re

import jsonschema
import pytest
import yaml

from contrastgen.io import read_jsonl

from .helpers import REPO, base_config, snakemake

pytestmark = pytest.mark.e2e

INSTRUCTIONS = [
    "Turn to your 4 clock and keep on that way till the destination.",
    "go foward and turn 7'o clock then cross two road the joint grey building is goal.",
    "It is in your ten o'clock direction, destination looks like two red roofed houses.",
    "Yes you can see it. Go in the 5 o'clock direction from where you are.",
    "Hi drone, fly north and land on the white roof of the big warehouse next to the road.",
    "turn left and go straight untill you see a parking lot with many cars",
]


def record_schema():
    return yaml.safe_load((REPO / "workflow/schemas/record.schema.yaml").read_text())


@pytest.fixture(scope="module")
def run(tmp_path_factory, generator_dir):
    work = tmp_path_factory.mktemp("e2e")
    lines = [
        {"id": f"r{i}", "instruction": t, "split": "train"} for i, t in enumerate(INSTRUCTIONS)
    ]
    lines.append({"id": "dup", "instruction": INSTRUCTIONS[0].upper()})  # same text, new id
    corpus = work / "corpus.jsonl"
    corpus.write_text(
        "\n".join(json.dumps(x) for x in lines)
        + '\n{"id": "broken", "instr\n'
        + json.dumps({"id": "short", "instruction": "go"})
        + "\n"
    )
    config = base_config()
    config["corpus"] = str(corpus)
    config["generator"]["model"] = str(generator_dir)
    config["ingest"]["shards"] = 2
    config["refine"]["max_rounds"] = 1
    config["generation"]["max_new_tokens"] = 64
    # Two GPU ids declared on this CPU host (the ids are just ids), one per generation
    # job and one thread each, so both shards' jobs run at once, each holding its own id.
    config["generator"].update(gpus_per_job=1, threads=1, gpu_lock_dir=str(work / "gpu-locks"))
    snakemake(
        work, config, "--cores", "2", "--resources", "gpu=2", env={"CONTRASTGEN_GPU_IDS": "0,1"}
    )
    return work, lines


def test_every_input_line_is_accounted_for_exactly_once(run):
    work, lines = run
    out = list(read_jsonl(work / "results/contrastive.jsonl"))
    rejected = list(read_jsonl(work / "results/rejected.jsonl"))
    ids = [r["id"] for r in out]
    assert sorted(ids) == sorted(x["id"] for x in lines)
    assert len(set(ids)) == len(ids)
    assert {r["reason"].split(" ")[0] for r in rejected} == {"invalid", "too"}
    assert [r["source"].rsplit(":", 1)[1] for r in rejected] == ["8", "9"]


def test_records_follow_the_schema_and_duplicates_share_one_generation(run):
    work, _ = run
    out = {r["id"]: r for r in read_jsonl(work / "results/contrastive.jsonl")}
    schema = record_schema()
    for record in out.values():
        jsonschema.validate(record, schema)
        assert len(record["positives"]) <= 2 and len(record["negatives"]) <= 1
        valid = {c["text"] for c in record["candidates"] if c["valid"]}
        assert set(record["positives"]) | set(record["negatives"]) <= valid
    assert out["r0"]["split"] == "train"  # passthrough field
    assert out["dup"]["candidates"] == out["r0"]["candidates"]


def test_stats_and_refinement_round(run):
    work, lines = run
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


def test_concurrent_generation_jobs_hold_disjoint_gpus(run):
    work, _ = run
    (a,) = claims((work / "logs/generate/000.log").read_text())
    (b,) = claims((work / "logs/generate/001.log").read_text())
    assert {a[0], b[0]} == {"0", "1"}, "each job got its own GPU id"
    assert a[1] < b[2] and b[1] < a[2], "the two generation jobs ran at the same time"
