"""The record and settings types agree with the schemas, and every record survives its
round trip through its type."""

import json
from pathlib import Path

import pytest
import yaml

from contrastgen.backends import BACKENDS
from contrastgen.backends.base import STRATEGIES
from contrastgen.backends.openai_backend import ENDPOINTS
from contrastgen.compute.planner import DEFAULT_BATCH_TOKENS, QUANTIZATIONS
from contrastgen.records import (
    KINDS,
    ORIGINS,
    SCHEMA_VERSION,
    STATUSES,
    UNPARSED,
    Candidate,
    OutputRecord,
    Proposal,
    RoundCandidates,
)
from contrastgen.settings import (
    MEASURE_ONLY,
    SPEED_KNOBS,
    BenchmarkSettings,
    GenerationSettings,
    GeneratorSettings,
    IngestLimits,
    IngestSettings,
    RefineSettings,
    RuleEdits,
    ServerSettings,
    Settings,
    Targets,
    Thresholds,
    ValidatorSettings,
    VllmSettings,
    with_speed_knobs,
    without_speed_knobs,
)
from contrastgen.stages.benchmark import ENGINES, SERVER_ENGINES, VLLM

REPO = Path(__file__).resolve().parents[2]
RECORD = yaml.safe_load((REPO / "workflow/schemas/record.schema.yaml").read_text())
CONFIG = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())["properties"]


def test_the_record_schema_lists_what_the_types_hold():
    candidate = RECORD["properties"]["candidates"]["items"]
    assert candidate["properties"]["kind"]["enum"] == [*KINDS, UNPARSED]
    assert candidate["properties"]["origin"]["enum"] == list(ORIGINS)
    assert RECORD["properties"]["status"]["enum"] == list(STATUSES)
    # what every candidate has (edit and donor only for their sources)
    always = [f for f in Candidate.__dataclass_fields__ if f not in ("edit", "donor")]
    assert sorted(candidate["required"]) == sorted(always)
    assert set(candidate["properties"]) == set(Candidate.__dataclass_fields__)
    fixed = [f for f in OutputRecord.__dataclass_fields__ if f != "extra"]
    assert sorted(RECORD["required"]) == sorted([*fixed, "schema_version"])
    assert RECORD["properties"]["schema_version"]["const"] == SCHEMA_VERSION


def test_the_config_schemas_enums_are_the_codes_registries():
    generator = CONFIG["generator"]["properties"]
    assert sorted(generator["backend"]["enum"]) == sorted(BACKENDS)
    assert generator["quantization"]["enum"] == list(QUANTIZATIONS)
    assert generator["server"]["properties"]["api"]["enum"] == list(ENDPOINTS)
    assert CONFIG["generation"]["properties"]["strategy"]["enum"] == list(STRATEGIES)
    bench = CONFIG["benchmark"]["properties"]
    for key in ("strategies", "sampled_strategies"):
        assert bench[key]["items"]["enum"] == list(STRATEGIES)
    assert ENGINES == [*STRATEGIES, VLLM, *SERVER_ENGINES]


def test_the_settings_take_every_key_of_their_config_section():
    """A key the schema allows but a settings type drops would be a value that silently
    does nothing."""
    for section, cls in (
        ("generation", GenerationSettings),
        ("benchmark", BenchmarkSettings),
    ):
        assert set(CONFIG[section]["properties"]) == set(cls.__dataclass_fields__), section
    generator = CONFIG["generator"]["properties"]
    assert set(generator) == set(GeneratorSettings.__dataclass_fields__)
    assert set(generator["server"]["properties"]) == set(ServerSettings.__dataclass_fields__)
    # plus the plan's tensor x pipeline sizes, which common.smk adds
    vllm = set(VllmSettings.__dataclass_fields__) - {"tensor_parallel", "pipeline_parallel"}
    assert set(generator["vllm"]["properties"]) == vllm
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    built = GeneratorSettings.from_config(config["generator"])
    assert built.server.base_url == config["generator"]["server"]["base_url"].rstrip("/")
    assert built.vllm.python == config["generator"]["vllm"]["python"]
    assert (
        GenerationSettings.from_config(config["generation"]).params().samples_per_prompt
        == (config["generation"]["samples_per_prompt"])
    )
    for section, cls in (
        ("targets", Targets),
        ("refine", RefineSettings),
        ("positives", RuleEdits),
    ):
        assert set(CONFIG[section]["properties"]) <= set(cls.__dataclass_fields__), section
    assert set(CONFIG["negatives"]["properties"]) == set(RuleEdits.__dataclass_fields__)
    validator = CONFIG["validator"]["properties"]
    assert set(validator) == set(ValidatorSettings.__dataclass_fields__)
    assert set(validator["thresholds"]["properties"]) == set(Thresholds.__dataclass_fields__)
    ingest = set(IngestSettings.__dataclass_fields__) - {"limits"}
    assert set(CONFIG["ingest"]["properties"]) == ingest | set(IngestLimits.__dataclass_fields__)
    # the whole tree, with every section, from the shipped config
    settings = Settings.from_config(config, project_dir="/project")
    assert settings.generator.vllm.python == "/project/" + config["generator"]["vllm"]["python"]
    assert settings.ingest.limits.max_words == config["ingest"]["max_words"]
    assert DEFAULT_BATCH_TOKENS == config["generation"]["token_budget"]  # the CLI's default


def test_speed_knobs_leave_the_params_and_come_back_from_the_config():
    """A rule's params hold the section without its speed knobs; the job puts them back
    from the run's config and gets the whole section, as config.yaml has it."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for section in SPEED_KNOBS:
        before = json.dumps(config[section], sort_keys=True)
        params = without_speed_knobs(section, config[section])
        assert json.dumps(config[section], sort_keys=True) == before  # not changed
        measured_only = MEASURE_ONLY.get(section, ())
        whole = {k: v for k, v in config[section].items() if k not in measured_only}
        assert with_speed_knobs(section, params, config) == whole
    validator = without_speed_knobs("validator", config["validator"])
    assert "batch_size" not in validator
    assert "judged" not in validator  # naming labels reruns only the measurement
    params = without_speed_knobs("generator", config["generator"])
    assert "threads" not in params and "max_concurrency" not in params["server"]
    assert params["server"]["model"] == config["generator"]["server"]["model"]
    changed = {**config, "generator": {**config["generator"], "threads": 3}}
    assert with_speed_knobs("generator", params, changed)["threads"] == 3
    # a knob the rule sets itself (the planner's token budget) stays as the rule set it
    params = {**without_speed_knobs("generation", config["generation"]), "token_budget": 4096}
    back = with_speed_knobs("generation", params, config)
    assert back["token_budget"] == 4096 and back["batch_size"] == config["generation"]["batch_size"]


@pytest.mark.parametrize(
    "record",
    [
        {"item": "i", "round": 0, "candidates": [], "unparsed": ["Sure!"]},
        {
            "item": "i",
            "round": 1,
            "asked_llm": True,
            "cached": False,
            "written_at": 1.5,
            "feedback": ["kept the clock position"],
            "candidates": [
                {"text": "a", "kind": "positive", "origin": "llm"},
                {"text": "b", "kind": "negative", "origin": "rule", "edit": "flip_lr"},
                {"text": "c", "kind": "negative", "origin": "corpus", "donor": "j"},
            ],
            "unparsed": [],
            "cut_lines": 1,
            "new_tokens": 40,
        },
    ],
)
def test_round_candidates_round_trip(record):
    typed = RoundCandidates.from_json(record)
    again = RoundCandidates.from_json(typed.to_json())
    assert again == typed
    assert [c.to_json() for c in typed.candidates] == record["candidates"]


def test_schema_1_files_read_on_and_a_newer_schema_is_refused_in_one_line():
    """Schema 1 called a candidate's maker `source` (the word a record uses for its
    file:line); state files and records of such a run keep working."""
    old_candidate = {"text": "t", "kind": "negative", "round": 0, "source": "rule",
                     "valid": True, "reasons": [], "scores": {}, "features": {}}  # fmt: skip
    old = {"id": "a", "instruction": "Go left.", "positives": [], "negatives": ["t"],
           "status": "partial", "rounds": 0, "source": "c.jsonl:1",
           "candidates": [old_candidate], "made_by": {}}  # fmt: skip
    record = OutputRecord.from_json(old)
    assert record.candidates[0].origin == "rule" and record.source == "c.jsonl:1"
    again = record.to_json()
    assert again["schema_version"] == SCHEMA_VERSION and "schema_version" not in record.extra
    assert again["candidates"][0]["origin"] == "rule" and "source" not in again["candidates"][0]
    assert Proposal.from_json({"text": "t", "kind": "positive", "source": "corpus"}).origin == (
        "corpus"
    )
    with pytest.raises(ValueError, match="schema_version 3: written by a newer contrastgen"):
        OutputRecord.from_json({**again, "schema_version": 3})
