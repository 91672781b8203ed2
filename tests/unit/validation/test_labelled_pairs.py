"""The validator against 64 hand-labelled pairs (tests/data/labelled_pairs.jsonl).

Hard cases on purpose: synonyms that are not changes, changes hidden in counts,
ordinals, sizes and relations, meta text, identical copies, off-topic text.
"""

import json
import subprocess
import sys
from pathlib import Path

from config_defaults import THRESHOLDS

from contrastgen.validation.validator import decide

DATA = Path(__file__).parents[2] / "data" / "labelled_pairs.jsonl"


def load():
    return [json.loads(line) for line in DATA.read_text().splitlines()]


def test_labelled_set_is_balanced():
    rows = load()
    assert len(rows) >= 60
    assert sum(r["kind"] == "positive" for r in rows) == sum(r["kind"] == "negative" for r in rows)


def test_validator_agrees_with_labels_per_kind(embedder):
    rows = load()
    sims = embedder.similarities([(r["original"], r["candidate"]) for r in rows])
    agree = {"positive": [], "negative": []}
    for row, sim in zip(rows, sims, strict=True):
        decision = decide(row["original"], row["candidate"], row["kind"], sim, THRESHOLDS)
        agree[row["kind"]].append(decision.valid == row["label"])
    for kind, hits in agree.items():
        assert sum(hits) / len(hits) >= 0.9, (kind, sum(hits), len(hits))


def test_validate_pairs_cli(tmp_path):
    rows = load()[:6]
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(
            json.dumps({k: r[k] for k in ("original", "candidate", "kind")}) + "\n" for r in rows
        )
    )
    out = tmp_path / "out.jsonl"
    cli = Path(sys.executable).parent / "contrastgen"
    proc = subprocess.run([cli, "validate-pairs", src, out], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    decided = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(decided) == 6
    for row, d in zip(rows, decided, strict=True):
        assert d["original"] == row["original"] and d["kind"] == row["kind"]
        assert set(d) >= {"valid", "scores", "reasons", "features"}
        assert set(d["features"]) == {"original", "candidate"}
        assert 0 <= d["scores"]["similarity"] <= 1.0001
    help_text = subprocess.run([cli, "validate-pairs", "--help"], capture_output=True, text=True)
    assert "positive|negative" in help_text.stdout


def test_validate_pairs_cli_names_the_bad_line(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"original": "go left", "candidate": "go right", "kind": "negative"}\n'
        '{"original": "go left", "kind": "negative"}\n'
    )
    cli = Path(sys.executable).parent / "contrastgen"
    proc = subprocess.run(
        [cli, "validate-pairs", src, tmp_path / "o.jsonl"], capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "in.jsonl:2: missing field(s) ['candidate']" in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_validate_pairs_takes_its_thresholds_from_the_config_and_flags(tmp_path):
    """The thresholds have one home, config.yaml: `--config` names it, a flag overrides
    one value."""
    import yaml
    from config_defaults import CONFIG

    positive = next(r for r in load() if r["kind"] == "positive" and r["label"])
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({k: positive[k] for k in ("original", "candidate", "kind")}) + "\n")
    strict = {**CONFIG, "validator": {**CONFIG["validator"]}}
    strict["validator"]["thresholds"] = {**THRESHOLDS.__dict__, "positive_min_similarity": 1.01}
    config = tmp_path / "strict.yaml"
    config.write_text(yaml.safe_dump(strict))
    cli = Path(sys.executable).parent / "contrastgen"

    def valid(*flags) -> bool:
        out = tmp_path / "out.jsonl"
        proc = subprocess.run(
            [cli, "validate-pairs", src, out, *flags], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(out.read_text())["valid"]

    assert valid()  # the shipped config.yaml (the working directory's)
    assert not valid("--config", config)
    assert valid("--config", config, "--positive-min-similarity", "0.5")
