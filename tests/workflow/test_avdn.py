"""An AVDN processed-episodes corpus through the real workflow, read back the way the
AnsweringAgent training code reads it (`paraphrases.positives[0..1]`, `negatives[0]`)."""

import copy
import json

import pytest

from contrastgen.files import read_jsonl

from .helpers import base_config, snakemake

pytestmark = pytest.mark.e2e

ANSWERS = [
    "Turn to your 4 o'clock and keep on that way till the destination.",
    "yes you are close. the destination is the white building at your 10 o'clock.",
    "Go north and land on the grey roof of the big warehouse next to the road.",
    "turn left and fly straight, the goal is the second house with a red roof.",
]


def episodes():
    """Two episodes in the processed shape: turn 0 has neither question nor answer."""
    out = []
    for e in range(2):
        out.append(
            {
                "episode_id": f"ep{e}",
                "map_name": f"map{e}",
                "gps_botm_left": [e + 0.5, 2.25],
                "dialogs": [
                    {"turn_id": 0, "question": None, "answer": None, "observation": {"x": e}},
                    *(
                        {"turn_id": t, "question": f"where now {t}?", "answer": a, "extra": [t]}
                        for t, a in enumerate(ANSWERS[2 * e : 2 * e + 2], start=1)
                    ),
                ],
            }
        )
    out[1]["dialogs"].append({"turn_id": 3, "question": "here?", "answer": "yes"})  # too short
    return out


@pytest.fixture(scope="module")
def avdn_run(tmp_path_factory, generator_dir):
    work = tmp_path_factory.mktemp("avdn")
    corpus = work / "episodes.json"
    corpus.write_text(json.dumps(episodes(), indent=2))
    config = base_config()
    config["corpus"] = str(corpus)
    config["generator"]["model"] = str(generator_dir)
    config["generator"]["threads"] = 2
    config["ingest"]["shards"] = 1
    config["refine"]["max_rounds"] = 0
    config["generation"]["max_new_tokens"] = 64
    snakemake(work, config, "--cores", "2", "--resources", "gpu=0")
    return work


def test_export_keeps_every_episode_and_turn_and_only_adds_accepted_text(avdn_run):
    exported = json.loads((avdn_run / "results/avdn_paraphrases.json").read_text())
    records = {r["id"]: r for r in read_jsonl(avdn_run / "results/contrastive.jsonl")}
    original = episodes()
    assert len(exported) == len(original)
    for ep_in, ep_out in zip(original, exported, strict=True):
        assert [t["turn_id"] for t in ep_out["dialogs"]] == [t["turn_id"] for t in ep_in["dialogs"]]
        for turn_in, turn_out in zip(ep_in["dialogs"], ep_out["dialogs"], strict=True):
            turn_out = copy.deepcopy(turn_out)
            field = turn_out.pop("paraphrases", None)
            assert turn_out == turn_in  # every other field unchanged
            if turn_in["answer"] is None:
                assert field is None, "a turn without answer gets no paraphrases field"
                continue
            assert field is not None
            record = records.get(f"{ep_in['episode_id']}/{turn_in['turn_id']}")
            if record is None:  # rejected at ingest (too short)
                assert field["validation_analysis"]["status"] == "rejected"
                assert field["positives"] == field["negatives"] == []
                continue
            accepted = {c["text"] for c in record["candidates"] if c["valid"]}
            assert set(field["positives"]) | set(field["negatives"]) <= accepted
            assert field["positives"] == field["valid_positives"] == record["positives"]
            assert field["negatives"] == field["valid_negatives"] == record["negatives"]
            assert len(field["positives"]) <= 2 and len(field["negatives"]) <= 1
            assert field["validation_analysis"]["status"] == record["status"]
            analysed = field["validation_analysis"]["candidates"]
            assert {c["text"] for c in analysed if c["valid"]} == accepted


def test_turns_without_answer_are_counted_apart_from_rejects(avdn_run):
    stats = json.loads((avdn_run / "results/stats.json").read_text())
    assert stats["turns_without_answer"] == 2
    assert stats["rejected"] == 1 and stats["ingested"] == len(ANSWERS)
    rejected = list(read_jsonl(avdn_run / "results/rejected.jsonl"))
    assert [r["id"] for r in rejected] == ["ep1/3"]
