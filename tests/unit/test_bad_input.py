"""Bad input of every class ends in a one-line error naming the file, line or key, or in a
reject with its reason; nothing is lost or changed silently."""

import copy
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from contrastgen.config import config_problems
from contrastgen.files import read_jsonl, write_jsonl
from contrastgen.records import IngestItem, made_by
from contrastgen.settings import IngestLimits, Settings
from contrastgen.stages.corpus import CorpusFormatError, read_corpus
from contrastgen.stages.ingest import ingest
from contrastgen.stages.merge import merge
from contrastgen.stages.rounds import start_state

REPO = Path(__file__).resolve().parents[2]

LIMITS = IngestLimits(min_words=3, max_words=30)
TEXT = "turn left at the red house"

MADE = made_by("SmolLM2-135M-Instruct", "transformers", "all-MiniLM-L6-v2", {})


def lines(*objs) -> str:
    return "\n".join(o if isinstance(o, str) else json.dumps(o) for o in objs) + "\n"


def run_ingest(tmp_path, data: bytes | str, name="c.jsonl"):
    corpus = tmp_path / name
    corpus.write_bytes(data if isinstance(data, bytes) else data.encode())
    shard = tmp_path / "s.jsonl"
    summary = ingest(corpus, [shard], tmp_path / "rej.jsonl", LIMITS)
    rejected = {
        r["source"].rsplit(":", 1)[1]: r["reason"] for r in read_jsonl(tmp_path / "rej.jsonl")
    }
    return summary, list(read_jsonl(shard)), rejected


def test_non_string_ids_are_rejected_not_turned_into_their_repr(tmp_path):
    data = lines(
        {"id": "1", "instruction": TEXT},
        {"id": 1, "instruction": TEXT + " now"},
        {"id": [1, 2], "instruction": TEXT + " again"},
        {"id": {"x": 1}, "instruction": TEXT + " once more"},
    )
    _, items, rejected = run_ingest(tmp_path, data)
    assert [m["id"] for i in items for m in i["members"]] == ["1"]
    assert rejected == {
        "2": "'id' must be a string, got int (1)",
        "3": "'id' must be a string, got list ([1, 2])",
        "4": "'id' must be a string, got dict ({\"x\": 1})",
    }


def test_invalid_utf8_is_a_reject_with_its_line_not_a_replacement_character(tmp_path):
    good = json.dumps({"id": "a", "instruction": TEXT}).encode()
    bad = b'{"id": "b", "instruction": "turn left at the caf\xe9 now"}'
    _, items, rejected = run_ingest(tmp_path, good + b"\n" + bad + b"\n")
    at = bad.index(b"\xe9")
    assert rejected == {"2": f"invalid UTF-8 at byte {at}"}
    assert "\ufffd" not in json.dumps(items)


def test_ids_differing_only_in_case_keep_their_own_instruction(tmp_path):
    data = lines({"id": "a", "instruction": TEXT}, {"id": "b", "instruction": TEXT.upper()})
    summary, items, _ = run_ingest(tmp_path, data)
    assert summary["items"] == 1  # generated once...
    state = start_state(IngestItem.from_json(items[0])).to_json()
    state["status"] = "failed"
    write_jsonl(tmp_path / "state.jsonl", [state])
    write_jsonl(tmp_path / "cand.jsonl", [])
    merge([tmp_path / "state.jsonl"], [tmp_path / "cand.jsonl"], tmp_path / "rej.jsonl",
          tmp_path / "out.jsonl", tmp_path / "stats.json", 0, made=MADE)  # fmt: skip
    out = {r["id"]: r["instruction"] for r in read_jsonl(tmp_path / "out.jsonl")}
    assert out == {"a": TEXT, "b": TEXT.upper()}  # ...but each record has its own text


@pytest.mark.parametrize(
    "field", ["source", "status", "candidates", "positives", "rounds", "schema_version"]
)
def test_passthrough_fields_named_like_output_fields_are_rejected(tmp_path, field):
    data = lines({"id": "a", "instruction": TEXT, field: "mine"}, {"id": "b", "instruction": TEXT})
    _, items, rejected = run_ingest(tmp_path, data)
    assert rejected == {"1": f"field {field!r} is reserved for the output record; rename it"}
    assert [m["id"] for m in items[0]["members"]] == ["b"]


def test_a_line_nested_too_deep_is_one_reject_and_the_rest_survives(tmp_path):
    deep = '{"id": "x", "instruction": ' + "[" * 100_000 + "]" * 100_000 + "}"
    data = lines({"id": "a", "instruction": TEXT}, deep)
    _, items, rejected = run_ingest(tmp_path, data)
    assert rejected == {"2": "JSON nested too deeply"} and len(items) == 1


def test_a_utf8_bom_is_not_part_of_the_data(tmp_path):
    _, items, rejected = run_ingest(
        tmp_path, b"\xef\xbb\xbf" + lines({"id": "a", "instruction": TEXT}).encode()
    )
    assert items[0]["instruction"] == TEXT and rejected == {}
    episodes = [{"episode_id": "e", "dialogs": [{"turn_id": 1, "answer": TEXT}]}]
    corpus = tmp_path / "e.json"
    corpus.write_bytes(b"\xef\xbb\xbf" + json.dumps(episodes).encode())
    assert [r.id for r in read_corpus(corpus)] == ["e/1"]


BAD_FILES = {
    "empty.jsonl": (b"", "empty corpus"),
    "blank.jsonl": (b"\n  \n\t\n", "empty corpus"),
    "gz.jsonl": (gzip.compress(b'{"id": "a", "instruction": "go left now"}\n'), "gzip-compressed"),
    "episode.jsonl": (
        json.dumps({"episode_id": "e", "dialogs": [{"turn_id": 1, "answer": TEXT}]}).encode(),
        r"c.jsonl:1: an AVDN episode object; an AVDN corpus is one JSON list",
    ),
    "pretty.jsonl": (
        json.dumps({"id": "a", "instruction": TEXT}, indent=2).encode(),
        "one JSON object spread over several lines",
    ),
    "nodialogs.json": (
        json.dumps([{"episode_id": "e"}]).encode(),
        r"episode\[0\] has no 'dialogs'",
    ),
    "dictdialogs.json": (
        json.dumps([{"episode_id": "e", "dialogs": {"0": {"answer": TEXT}}}]).encode(),
        r"episode\[0\] has no 'dialogs' list",
    ),
    "deep.json": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_unreadable_corpora_stop_with_one_line_naming_the_file(tmp_path, name):
    data, message = BAD_FILES[name]
    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(data)
    with pytest.raises(CorpusFormatError, match=message) as info:
        list(read_corpus(corpus))
    assert str(info.value).startswith(str(corpus)) and "\n" not in str(info.value)


def test_a_directory_is_not_a_corpus(tmp_path):
    with pytest.raises(CorpusFormatError, match="is a directory"):
        list(read_corpus(tmp_path))


def base_config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def schema():
    return yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())


def problems(config):
    return list(config_problems(Settings.from_config(config)))


def test_settings_that_cannot_work_together_are_named():
    assert problems(base_config()) == []
    cases = [
        (("ingest", "min_words"), 90, "ingest.min_words (90) is larger than ingest.max_words"),
        (("validator", "thresholds", "negative_min_similarity"), 0.999, "negative_min_similarity"),
        (("generation", "token_budget"), 128, "generation.token_budget (128) must exceed"),
    ]
    for path, value, message in cases:
        config = base_config()
        node = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        (problem,) = problems(config)
        assert message in problem
    config = base_config()
    config["targets"] = {"positives": 0, "negatives": 0}
    assert problems(config) == [
        "targets.positives and targets.negatives are both 0: nothing to generate"
    ]


@pytest.mark.parametrize(
    "path,value",
    [
        (("generation", "temperature"), 5),
        (("refine", "temperature"), 50),
        (("ingest", "shards"), 10000),
    ],
)
def test_the_schema_refuses_nonsense_values(path, value):
    config = copy.deepcopy(base_config())
    config[path[0]][path[1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, schema())


def test_outputs_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_jsonl(tmp_path / "a.jsonl", [{"x": 1}])
        os.umask(0o077)
        write_jsonl(tmp_path / "b.jsonl", [{"x": 1}])
    finally:
        os.umask(old)
    assert (tmp_path / "a.jsonl").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.jsonl").stat().st_mode & 0o777 == 0o600


RULE_SCRIPT = """
import sys, types
from contrastgen.rulekit import setup_rule_logging
from contrastgen.stages.corpus import read_corpus
setup_rule_logging(types.SimpleNamespace(log=[sys.argv[1]], rule="ingest"))
list(read_corpus(sys.argv[2]))
"""


def test_an_expected_error_in_a_rule_ends_its_log_with_one_line_and_no_traceback(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    log = tmp_path / "rule.log"
    proc = subprocess.run(
        [sys.executable, "-c", RULE_SCRIPT, str(log), str(tmp_path / "empty.jsonl")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    text = log.read_text()
    assert "Traceback" not in text
    assert (
        text.strip().splitlines()[-1] == f"error: {tmp_path}/empty.jsonl: empty corpus (no records)"
    )


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "contrastgen.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_validate_pairs_checks_its_whole_input_before_loading_a_model(tmp_path):
    pair = {"original": TEXT, "candidate": "go left at the red house", "kind": "positive"}
    cases = {
        "bad.jsonl": (lines(pair, "{oops"), "bad.jsonl:2: invalid JSON"),
        "list.jsonl": (lines(pair, [1, 2]), "list.jsonl:2: expected a JSON object, got list"),
        "number.jsonl": (lines({**pair, "candidate": 7}), "'candidate' must be a non-empty string"),
        "null.jsonl": (lines({**pair, "original": None}), "'original' must be a non-empty string"),
        "latin1.jsonl": (b'{"original": "caf\xe9"}\n', "latin1.jsonl:1: invalid UTF-8"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        # a model that does not exist: the input error must come first
        proc = cli("validate-pairs", path, tmp_path / "out.jsonl", "--model", tmp_path / "none")
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    for missing in (tmp_path / "nope.jsonl", tmp_path):
        proc = cli("validate-pairs", missing, tmp_path / "out.jsonl")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_plan_and_inspect_refuse_bad_input_in_one_line(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "mistral", "hidden_')  # truncated
    proc = cli("plan", "--model", model, "--gpus", 2, "--gpu-memory", "11GiB")
    assert proc.returncode == 2 and "is not valid JSON" in proc.stderr
    assert "Traceback" not in proc.stderr
    for args in (["--batch-tokens", "-5"], ["--gpus", "0"]):
        base = ["plan", "--model", model, "--gpus", 2, "--gpu-memory", "11GiB"]
        proc = cli(*base, *args)
        assert proc.returncode == 2 and "must be 1 or more" in proc.stderr
    records = tmp_path / "r.jsonl"
    records.write_text(lines({"id": "a", "text": "not a record"}))
    proc = cli("inspect", records)
    assert proc.returncode == 2 and "record 1 is not a contrastgen output record" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = cli("inspect", records, "-n", 0)
    assert proc.returncode == 2 and "must be 1 or more" in proc.stderr


def test_a_record_with_an_unparsed_answer_follows_the_record_schema(tmp_path):
    record_schema = yaml.safe_load((REPO / "workflow/schemas/record.schema.yaml").read_text())
    data = lines({"id": "a", "instruction": TEXT})
    _, items, _ = run_ingest(tmp_path, data)
    from contrastgen.settings import Targets
    from contrastgen.stages.validate import validate

    (tmp_path / "cand.jsonl").write_text(
        json.dumps(
            {
                "item": items[0]["item"],
                "round": 0,
                "candidates": [],
                "unparsed": ["Sure! Here you go"],
            }
        )
        + "\n"  # fmt: skip
    )
    validate(items, tmp_path / "cand.jsonl", 0, tmp_path / "state.jsonl", Targets(2, 1),
             None, lambda: None)  # fmt: skip
    write_jsonl(tmp_path / "none.jsonl", [])
    merge([tmp_path / "state.jsonl"], [tmp_path / "none.jsonl"], tmp_path / "rej.jsonl",
          tmp_path / "out.jsonl", tmp_path / "stats.json", 0, made=MADE)  # fmt: skip
    (record,) = read_jsonl(tmp_path / "out.jsonl")
    assert record["candidates"][0]["kind"] == "unparsed"
    jsonschema.validate(record, record_schema)
