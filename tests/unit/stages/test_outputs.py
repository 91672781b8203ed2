"""Exports, report files, the inspect view and the run summary, on real stage outputs."""

import json
import subprocess
import sys

import pyarrow.parquet as pq

from contrastgen.files import read_jsonl, write_jsonl
from contrastgen.records import IngestItem, made_by
from contrastgen.settings import IngestLimits
from contrastgen.stages.corpus import is_avdn
from contrastgen.stages.export import export_avdn, export_parquet
from contrastgen.stages.ingest import ingest
from contrastgen.stages.merge import merge
from contrastgen.stages.report import run_summary, write_report_files
from contrastgen.stages.rounds import start_state

EPISODES = [
    {
        "episode_id": "ep-a",
        "map_name": "2128",
        "gps_botm_left": [1.5, 2.5],
        "dialogs": [
            # turn 0 of a processed episode: no question, no answer
            {"turn_id": 0, "question": None, "answer": None, "gps": [1, 2]},
            {"turn_id": 1, "question": "where?", "answer": "turn to your 4 o'clock and fly"},
            {"turn_id": 2, "question": "now?", "answer": "go"},  # too short: rejected
        ],
    },
    {
        "episode_id": "ep-b",
        "dialogs": [
            {"turn_id": 0},
            {"turn_id": 1, "question": "", "answer": "head north to the red roof building"},
            {"turn_id": 2, "answer": "TURN to your 4 o'clock and fly", "extra": {"k": [1]}},
        ],
    },
]


def finished_run(tmp_path, corpus):
    """ingest + merge for real, with one accepted positive on one item."""
    shard = tmp_path / "shard.jsonl"
    ingest(corpus, [shard], tmp_path / "rejected.jsonl", IngestLimits(3, 80))
    states = []
    for item in read_jsonl(shard):
        state = start_state(IngestItem.from_json(item)).to_json()
        state["status"] = "failed"
        if "north" in state["instruction"]:
            text = "fly north toward the building with the red roof"
            state["candidates"] = [
                {  # rejected, and first: the export must not hand it to a trainer
                    "text": "fly south to the red roof building",
                    "kind": "positive",
                    "round": 0,
                    "valid": False,
                    "reasons": [{"code": "cardinal_changed", "from": "north", "to": "south"}],
                    "scores": {"similarity": 0.77},
                    "features": {},
                },
                {
                    "text": text,
                    "kind": "positive",
                    "round": 0,
                    "valid": True,
                    "reasons": [],
                    "scores": {"similarity": 0.81},
                    "features": {},
                },
            ]
            state["positives"] = [text]
            state["status"] = "partial"
        states.append(state)
    write_jsonl(tmp_path / "state.jsonl", states)
    write_jsonl(tmp_path / "cand.jsonl", [])
    merge(
        [tmp_path / "state.jsonl"],
        [tmp_path / "cand.jsonl"],
        tmp_path / "rejected.jsonl",
        tmp_path / "contrastive.jsonl",
        tmp_path / "stats.json",
        0,
        {"generate": 7200.0},
        made=made_by("SmolLM2-135M-Instruct", "transformers", "all-MiniLM-L6-v2", {}),
    )
    return tmp_path / "contrastive.jsonl", tmp_path / "rejected.jsonl", tmp_path / "stats.json"


def test_avdn_export_round_trips_with_only_the_paraphrases_field_added(tmp_path):
    corpus = tmp_path / "episodes.json"
    corpus.write_text(json.dumps(EPISODES))
    assert is_avdn(corpus)
    records, rejected, _ = finished_run(tmp_path, corpus)
    counts = export_avdn(corpus, records, rejected, tmp_path / "out.json")
    assert counts == {"turns": 6, "with_record": 3, "rejected": 1, "without_answer": 2}
    out = json.loads((tmp_path / "out.json").read_text())
    turns = [turn for ep in out for turn in ep["dialogs"]]
    assert "paraphrases" not in turns[0] and "paraphrases" not in turns[3]  # turn 0 untouched
    fields = {i: turns[i].pop("paraphrases") for i in (1, 2, 4, 5)}
    assert out == EPISODES  # nothing else changed, extra fields and nulls included
    north = fields[4]
    accepted = ["fly north toward the building with the red roof"]
    # what a trainer reads (positives[0], negatives[0]) is accepted text only
    assert north["positives"] == north["valid_positives"] == accepted
    assert north["negatives"] == north["valid_negatives"] == []
    analysis = north["validation_analysis"]
    assert [c["valid"] for c in analysis["candidates"]] == [False, True]
    assert analysis["candidates"][0]["reasons"] == ["cardinal_changed"]
    assert fields[2]["validation_analysis"]["status"] == "rejected"
    assert fields[2]["positives"] == fields[2]["negatives"] == []
    assert fields[1]["validation_analysis"]["status"] == "failed"
    assert fields[1]["positives"] == fields[1]["negatives"] == []


def test_ingest_counts_turns_without_answer_apart_from_rejects(tmp_path):
    corpus = tmp_path / "episodes.json"
    corpus.write_text(json.dumps(EPISODES))
    summary = ingest(
        corpus,
        [tmp_path / "s.jsonl"],
        tmp_path / "rejected.jsonl",
        IngestLimits(3, 80),
        summary_path=tmp_path / "summary.json",
    )
    assert summary == json.loads((tmp_path / "summary.json").read_text())
    assert summary["turns_without_answer"] == 2 and summary["rejected"] == 1
    assert [r["id"] for r in read_jsonl(tmp_path / "rejected.jsonl")] == ["ep-a/2"]


def test_parquet_has_one_row_per_id(tmp_path):
    corpus = tmp_path / "episodes.json"
    corpus.write_text(json.dumps(EPISODES))
    records, _, _ = finished_run(tmp_path, corpus)
    assert export_parquet(records, tmp_path / "c.parquet") == 3
    table = pq.read_table(tmp_path / "c.parquet").to_pylist()
    assert sorted(r["id"] for r in table) == ["ep-a/1", "ep-b/1", "ep-b/2"]
    north = next(r for r in table if r["id"] == "ep-b/1")
    assert north["positives"] == ["fly north toward the building with the red roof"]
    assert len(json.loads(north["candidates"])) == 2


def test_report_files_inspect_and_summary(tmp_path):
    corpus = tmp_path / "episodes.json"
    corpus.write_text(json.dumps(EPISODES))
    records, _, stats_path = finished_run(tmp_path, corpus)
    out = {
        k: tmp_path / f"{k}.{ext}"
        for k, ext in [
            ("stats", "html"),
            ("acceptance", "png"),
            ("scores", "png"),
            ("reasons", "png"),
            ("samples", "html"),
        ]
    }
    write_report_files(records, stats_path, out)
    for path in out.values():
        assert path.stat().st_size > 500
    assert out["acceptance"].read_bytes()[:4] == b"\x89PNG"
    stats = json.loads(stats_path.read_text())
    assert f'data-key="complete_share">{stats["complete_share"]}<' in out["stats"].read_text()
    assert "fly north toward the building" in out["samples"].read_text()

    cmd = [sys.executable, "-m", "contrastgen.cli", "inspect", str(records)]
    env = {"COLUMNS": "140", "PATH": "/usr/bin:/bin"}
    shown = subprocess.run(
        cmd + ["--reason", "cardinal_changed"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert "ep-b/1" in shown and "cardinal_changed" in shown and "north->south" in shown
    assert "ep-a/1" not in shown
    failed = subprocess.run(
        cmd + ["--status", "failed", "-n", "1"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert failed.count("failed") == 1 and "ep-a/1" in failed
    missing = subprocess.run(
        cmd[:-1] + [str(tmp_path / "nope.jsonl")], capture_output=True, text=True, env=env
    )
    assert missing.returncode == 2 and "nope.jsonl: no such file" in missing.stderr

    summary = run_summary(stats, gpus_per_job=2, gpu_stages=("generate", "refine"))
    assert "3 ingested" in summary and "1 rejected" in summary
    assert "GPU hours      4.0 (2 GPUs per job)" in summary  # 7200 s x 2 GPUs


def test_a_bom_prefixed_avdn_corpus_is_avdn_for_ingest_and_export_alike(tmp_path):
    """Windows editors save UTF-8 with a BOM: ingest reads such a file as AVDN episodes,
    so the export must be scheduled and read it too."""
    corpus = tmp_path / "episodes.json"
    corpus.write_bytes(b"\xef\xbb\xbf" + json.dumps(EPISODES).encode())
    assert is_avdn(corpus)
    records, rejected, _ = finished_run(tmp_path, corpus)
    counts = export_avdn(corpus, records, rejected, tmp_path / "out.json")
    assert counts == {"turns": 6, "with_record": 3, "rejected": 1, "without_answer": 2}
