"""Exports: AVDN episodes with a `paraphrases` field per turn, and a flat parquet table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from contrastgen.files import read_jsonl, write_atomic, write_json
from contrastgen.records import KINDS, SCHEMA_VERSION, OutputRecord, Rejected
from contrastgen.stages.corpus import avdn_turns, has_answer
from contrastgen.validation.judged import figure_rows, shown_share

_WHERE = re.compile(r":episode\[(\d+)\]\.dialogs\[(\d+)\]$")


def paraphrases_field(record: OutputRecord) -> dict[str, Any]:
    """The field AnsweringAgent training code reads.

    That code takes `positives[0]`, `positives[1]` and `negatives[0]` as its examples, so
    those lists hold the accepted candidates only, in the order they were accepted (at
    most the targets; empty where none was). `valid_*` repeat them for older readers;
    every candidate with its decision is under `validation_analysis`.
    """
    return {
        "positives": list(record.positives),
        "negatives": list(record.negatives),
        "valid_positives": list(record.positives),
        "valid_negatives": list(record.negatives),
        "validation_analysis": {
            "status": record.status,
            "rounds": record.rounds,
            "candidates": [
                {
                    "text": c.text,
                    "kind": c.kind,
                    "valid": c.valid,
                    "reasons": [r["code"] for r in c.reasons],
                    "similarity": c.scores.get("similarity"),
                }
                for c in record.candidates
                if c.kind in KINDS
            ],
        },
    }


def rejected_field(reject: Rejected) -> dict[str, Any]:
    return {
        "positives": [],
        "negatives": [],
        "valid_positives": [],
        "valid_negatives": [],
        "validation_analysis": {"status": "rejected", "reason": reject.reason},
    }


def _by_position(rows):
    """{(episode, turn): row} of records or rejects, from their `source` (file:where)."""
    out = {}
    for row in rows:
        m = _WHERE.search(row.source)
        if m:
            out[(int(m[1]), int(m[2]))] = row
    return out


def export_avdn(corpus: str | Path, records_path, rejected_path, out_path) -> dict[str, int]:
    """The corpus episodes, unchanged but for a `paraphrases` field on every answered turn
    (turns without an answer, such as turn 0, come out exactly as they went in)."""
    episodes = json.loads(Path(corpus).read_text(encoding="utf-8-sig"))  # BOM: see is_avdn
    records = _by_position(map(OutputRecord.from_json, read_jsonl(records_path)))
    rejected = _by_position(map(Rejected.from_json, read_jsonl(rejected_path)))
    counts = {"turns": 0, "with_record": 0, "rejected": 0, "without_answer": 0}
    for ei, episode in enumerate(episodes):
        for ti, turn in enumerate(avdn_turns(episode) or []):
            counts["turns"] += 1
            if not has_answer(turn):
                counts["without_answer"] += 1
            elif (ei, ti) in records:
                turn["paraphrases"] = paraphrases_field(records[(ei, ti)])
                counts["with_record"] += 1
            elif (ei, ti) in rejected:
                turn["paraphrases"] = rejected_field(rejected[(ei, ti)])
                counts["rejected"] += 1
            else:
                raise ValueError(
                    f"{corpus}: episode[{ei}].dialogs[{ti}] is in neither {records_path} nor "
                    f"{rejected_path}; were they made from another corpus?"
                )
    write_json(out_path, episodes, indent=1)
    return counts


def export_parquet(records_path, out_path) -> int:
    """One row per id: lists of accepted texts, status, candidates as JSON text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for r in map(OutputRecord.from_json, read_jsonl(records_path)):
        rows.append(
            {
                "schema_version": SCHEMA_VERSION,
                "id": r.id,
                "instruction": r.instruction,
                "positives": r.positives,
                "negatives": r.negatives,
                "status": r.status,
                "rounds": r.rounds,
                "source": r.source,
                "candidates": json.dumps([c.to_json() for c in r.candidates], ensure_ascii=False),
                "extra": json.dumps(r.extra, ensure_ascii=False),
                "made_by": json.dumps(r.made_by, ensure_ascii=False),
            }
        )
    schema = pa.schema(
        [
            ("schema_version", pa.int32()),
            ("id", pa.string()),
            ("instruction", pa.string()),
            ("positives", pa.list_(pa.string())),
            ("negatives", pa.list_(pa.string())),
            ("status", pa.string()),
            ("rounds", pa.int32()),
            ("source", pa.string()),
            ("candidates", pa.string()),
            ("extra", pa.string()),
            ("made_by", pa.string()),
        ]
    )
    table = pa.Table.from_pylist(rows, schema=schema)
    write_atomic(out_path, lambda fh: pq.write_table(table, fh), binary=True)
    return len(rows)


# The parquet's columns as the Hugging Face dataset card names their types.
_CARD_FEATURES = [
    ("schema_version", "int32"),
    ("id", "string"),
    ("instruction", "string"),
    ("positives", "list"),
    ("negatives", "list"),
    ("status", "string"),
    ("rounds", "int32"),
    ("source", "string"),
    ("candidates", "string"),
    ("extra", "string"),
    ("made_by", "string"),
]


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "100K<n<1M" if n < 1_000_000 else "n>1M"


def dataset_card(stats: dict[str, Any]) -> str:
    """results/README.md: a Hugging Face dataset card for results/contrastive.parquet
    (YAML header with size and features; how the data was made; the judged precision)."""
    rows = stats["ingested"]
    features = "\n".join(
        f"  - name: {name}\n"
        + ("    sequence: string" if dtype == "list" else f"    dtype: {dtype}")
        for name, dtype in _CARD_FEATURES
    )
    header = (
        "---\n"
        "pretty_name: AVDN contrastive paraphrases\n"
        "language:\n- en\n"
        "task_categories:\n- sentence-similarity\n"
        f"size_categories:\n- {_size_category(rows)}\n"
        "configs:\n- config_name: default\n  data_files:\n  - split: train\n"
        "    path: contrastive.parquet\n"
        "dataset_info:\n  features:\n"
        f"{features}\n"
        f"  splits:\n  - name: train\n    num_examples: {rows}\n"
        "---\n"
    )
    made = stats.get("made_by", {})
    lines = [
        "# AVDN contrastive paraphrases",
        "",
        "For each navigation answer: positives that say exactly what it says and hard "
        "negatives that change one fact (a direction, clock position, landmark, color, "
        "count, relation, or the answer's yes / no, right / wrong way, what is in view).",
        "",
        "## How it was made",
        f"- generator: `{made.get('generator', {}).get('model')}` through the "
        f"`{made.get('generator', {}).get('backend')}` backend, plus rule-made positives "
        "and negatives (`origin: rule`) and corpus-mined negatives (`origin: corpus`)",
        f"- validator: `{made.get('validator', {}).get('model')}`, thresholds "
        f"`{json.dumps(made.get('validator', {}).get('thresholds', {}), sort_keys=True)}`",
        _judge_line(made, stats.get("judge", {})),
        f"- settings hash (on every record as `made_by.hash`): `{made.get('hash')}`",
        f"- {rows} answers: {stats['complete']} complete, {stats['partial']} partial, "
        f"{stats['failed']} failed; {stats['rejected']} corpus records rejected",
        "",
    ]
    lines += judged_lines(stats.get("judged_sets", []))
    lines += [
        "",
        "## Per origin",
        "",
        "How far the kept pairs move from the original: the median share of its words",
        "changed, and for positives the mean self-BLEU of an item's kept positives (1: copies",
        "of each other, 0: no phrase shared; over items with two or more).",
        "",
        "| origin | acceptance | share of kept | word edits | words changed | self-BLEU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in stats.get("per_origin", {}).items():
        bleu = s.get("positives_self_bleu")
        lines.append(
            f"| {name} | {s['acceptance']:.1%} | {s['share_of_kept']:.1%} | "
            f"{s['kept_word_edits']['median']:g} (median) | "
            f"{s.get('kept_changed_share_median', 0.0):.0%} (median) | "
            f"{'-' if bleu is None else f'{bleu:.2f}'} |"
        )
    if (bleu := stats.get("positives_self_bleu")) is not None:
        lines += ["", f"All kept positives of an item: self-BLEU {bleu:.2f} (mean over items)."]
    return header + "\n".join(lines) + "\n"


def judged_lines(sets: list[dict[str, Any]]) -> list[str]:
    """The card's "Judged precision": the run's validator on each judged set of
    validator.judged, whose labels and how many, with 95% intervals."""
    lines = [
        "## Judged precision",
        "The validator of this run (its model and thresholds, the rules alone) on "
        "hand-judged pairs (rules in docs/judged-set.md); 95% Wilson intervals in "
        "brackets, - where there is nothing to divide. Recall: the share of faithful pairs "
        "(good negatives) accepted. A labels file of `contrastgen review` is shown per "
        "origin only: its sample gives each kind and origin an equal share.",
    ]
    if not sets:
        lines += ["", "No judged set was named (validator.judged is empty)."]
    for figures in sets:
        lines += [
            "",
            f"### {figures['name']}: {figures['pairs']} pairs labelled by {figures['by']}",
            "",
            "| kind | origin | pairs | recall | changed rejected | precision |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for origin, kind, s in figure_rows(figures):
            lines.append(
                f"| {kind} | {origin} | {s['pairs']} | {shown_share(s, 'faithful_accepted')} "
                f"| {shown_share(s, 'changed_rejected')} | {shown_share(s, 'precision')} |"
            )
    return lines


def _judge_line(made: dict[str, Any], counts: dict[str, int]) -> str:
    if made.get("validator", {}).get("judge", "none") == "none":
        return "- model judge: none (the validator's rules decided alone)"
    return (
        f"- model judge: the generator's model judged {counts.get('judged', 0)} candidates; "
        f"it rejected {counts.get('rejected', 0)} the rules accepted, accepted "
        f"{counts.get('overruled', 0)} positives the rules rejected for their wording, and "
        f"{counts.get('unparsed', 0)} answers did not parse (the rules decided those). "
        "The judged precision below is the rules' alone: the run does not judge the "
        "hand-judged pairs with the model (tests/judge_figures.py does)"
    )


def write_dataset_card(stats_path: str | Path, out_path: str | Path) -> None:
    stats = json.loads(Path(stats_path).read_text())
    card = dataset_card(stats)
    write_atomic(out_path, lambda fh: fh.write(card))
