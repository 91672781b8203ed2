import json

import pytest

from contrastgen.files import read_jsonl
from contrastgen.settings import IngestLimits
from contrastgen.stages.corpus import (
    CorpusFormatError,
    item_id,
    read_corpus,
    shard_ids,
)
from contrastgen.stages.ingest import BadRecordError, ingest

LIMITS = IngestLimits(min_words=3, max_words=30)


def test_shard_ids_come_from_the_count_alone():
    assert shard_ids(3) == ["000", "001", "002"]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_ingest_rejects_with_reason_and_file_line(tmp_path):
    corpus = write(
        tmp_path,
        "c.jsonl",
        "\n".join(
            [
                json.dumps({"id": "a", "instruction": "turn left at the red house", "x": 1}),
                "{not json",
                json.dumps({"id": "b"}),
                json.dumps({"id": "c", "instruction": 42}),
                json.dumps({"id": "d", "instruction": "ok go"}),
                json.dumps({"id": "e", "instruction": "word " * 40}),
                json.dumps({"id": "a", "instruction": "something else entirely here"}),
                json.dumps({"id": "f", "instruction": "Turn  LEFT at the red house"}),
                json.dumps({"instruction": "no id on this line at all"}),
                json.dumps({"id": "g", "instruction": "x" * 1_000_000}),  # 1 MB, one "word"
                json.dumps({"id": "h", "instruction": ["turn", "left"]}),
            ]
        ),
    )
    shards = [tmp_path / "s0.jsonl", tmp_path / "s1.jsonl"]
    summary = ingest(corpus, shards, tmp_path / "rej.jsonl", LIMITS)
    rejected = list(read_jsonl(tmp_path / "rej.jsonl"))
    by_line = {r["source"].rsplit(":", 1)[1]: r["reason"] for r in rejected}
    assert by_line["2"].startswith("invalid JSON")
    assert by_line["3"] == "missing field 'instruction'"
    assert "must be a string" in by_line["4"]
    assert by_line["5"].startswith("too short")
    assert by_line["6"].startswith("too long")
    assert by_line["7"].startswith("duplicate id 'a' (different text)")
    assert by_line["9"] == "missing field 'id'"
    assert by_line["10"].startswith("too long: 1000000 characters")
    assert by_line["11"] == "'instruction' must be a string, got list"
    assert all(r["source"].startswith(str(corpus)) for r in rejected)
    # a and f differ only in case/spaces: one item, both ids, extra fields kept.
    items = [r for s in shards for r in read_jsonl(s)]
    assert len(items) == 1
    assert summary == {
        "records": 11, "ids": 2, "items": 1, "rejected": 9, "turns_without_answer": 0
    }  # fmt: skip
    assert [m["id"] for m in items[0]["members"]] == ["a", "f"]
    assert [m["instruction"] for m in items[0]["members"]] == [
        "turn left at the red house",
        "Turn LEFT at the red house",
    ]
    assert items[0]["members"][0]["extra"] == {"x": 1}


def test_on_bad_record_error_names_file_and_line(tmp_path):
    corpus = write(tmp_path, "c.jsonl", '{"id": "a", "instruction": "go left now please"}\n{bad\n')
    with pytest.raises(BadRecordError, match=r"c\.jsonl:2: invalid JSON"):
        ingest(corpus, [tmp_path / "s.jsonl"], tmp_path / "r.jsonl", LIMITS, "error")


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty corpus"),
        (b"\x00\x01\x02garbage", "binary data"),
        (b"just some text\nmore text\n", "no line is a JSON object"),
        (b"[1, 2, 3]", "list of AVDN episode objects"),
        (b'[{"episode_id": "x"}]', "no 'dialogs' list"),
    ],
)
def test_unreadable_corpus_stops_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(CorpusFormatError, match=message):
        list(read_corpus(path))


def test_avdn_episodes_one_record_per_turn(tmp_path):
    episodes = [
        {
            "episode_id": "ep1",
            "map_name": "m",
            "dialogs": [
                {"turn_id": 0, "question": "where?", "answer": "go to your 3 o'clock"},
                {"turn_id": 1, "question": "now?", "answer": "turn left at the red truck"},
            ],
        }
    ]
    path = write(tmp_path, "avdn.json", json.dumps(episodes))
    records = list(read_corpus(path))
    assert [r.id for r in records] == ["ep1/0", "ep1/1"]
    assert records[1].instruction == "turn left at the red truck"
    assert records[0].source.endswith("episode[0].dialogs[0]")


def test_item_id_ignores_case():
    assert item_id("Turn left") == item_id("turn left")
