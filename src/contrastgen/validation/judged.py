"""The validator against hand-judged pairs: the project's (resources/judged/judged_pairs.jsonl)
and a user's own labels (`contrastgen review`).

Each row is a pair a person judged by reading (docs/judged-set.md has the rules): `label`
true when the candidate is what it claims to be (a faithful positive, a one-fact
negative). A third of the project's originals, chosen by hash, are `heldout`: never looked
at while the validator was tuned, and the figures users see come from them. A user's
labels file (`validator.judged` in config.yaml) is measured whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contrastgen.errors import UserError
from contrastgen.files import jsonl_lines, read_jsonl

JUDGED_SET = Path(__file__).parents[3] / "resources" / "judged" / "judged_pairs.jsonl"
BUNDLED = "bundled"  # validator.judged's name for the project's held-out pairs
KINDS = ("positive", "negative")
# A labels file's fields (the judged set's, less the split, plus who labelled)
LABEL_FIELDS = {
    "original": str,
    "candidate": str,
    "kind": str,
    "label": bool,
    "note": str,
    "origin": str,
    "by": str,
}


@dataclass(frozen=True)
class JudgedPair:
    original: str
    candidate: str
    kind: str
    label: bool
    note: str
    origin: str
    split: str = "labels"
    by: str = ""


def load(path: str | Path = JUDGED_SET) -> list[JudgedPair]:
    return [JudgedPair(**row) for row in read_jsonl(path)]


def label_problem(row: dict[str, Any]) -> str | None:
    """Why `row` is not a line of a labels file, or None."""
    for key, kind in LABEL_FIELDS.items():
        if not isinstance(row.get(key), kind):
            return f"field {key!r} missing or not a {kind.__name__}"
    if row["kind"] not in KINDS:
        return f"kind must be positive or negative, not {row['kind']!r}"
    return None


def label_row(pair: JudgedPair) -> dict[str, Any]:
    """A label as a line of a labels file."""
    return {key: getattr(pair, key) for key in LABEL_FIELDS}


def read_labels(path: str | Path) -> list[JudgedPair]:
    """Every label of a labels file (`contrastgen review` writes them); a bad line stops
    with its file and line, and nothing is skipped."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such labels file")
    out = []
    for where, row, error in jsonl_lines(path, path.read_bytes().split(b"\n")):
        problem = error or label_problem(row)
        if problem:
            raise UserError(f"{where}: {problem} (not a labels file of `contrastgen review`?)")
        out.append(JudgedPair(**{k: row[k] for k in LABEL_FIELDS}))
    return out


def wilson(successes: int, n: int, z: float = 1.96) -> list[float]:
    """The Wilson score interval (95% by default) of a share: honest at small n and at
    0 or 1, where the normal approximation gives an interval of width zero."""
    if n == 0:
        return [0.0, 1.0]
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def share(successes: int, n: int) -> float | None:
    """successes / n, or None when there is nothing to divide (no pair of that kind)."""
    return round(successes / n, 4) if n else None


def score(
    pairs: Iterable[JudgedPair], accepted: Callable[[JudgedPair], bool]
) -> dict[str, dict[str, Any]]:
    """Per kind: the share of faithful pairs accepted (the validator's recall), of changed
    pairs rejected, and the precision of what is accepted (accepted and faithful /
    accepted), with counts and 95% Wilson intervals; a share of nothing is None. A kind
    without pairs is left out."""
    pairs = list(pairs)
    out = {}
    for kind in KINDS:
        rows = [(p.label, accepted(p)) for p in pairs if p.kind == kind]
        if not rows:
            continue
        good = sum(label for label, _ in rows)
        good_taken = sum(label and a for label, a in rows)
        taken = sum(a for _, a in rows)
        bad_refused = sum(not label and not a for label, a in rows)
        out[kind] = {
            "pairs": len(rows),
            "faithful": good,
            "faithful_accepted": share(good_taken, good),
            "faithful_accepted_ci": wilson(good_taken, good),
            "changed_rejected": share(bad_refused, len(rows) - good),
            "accepted": taken,
            "precision": share(good_taken, taken),
            "precision_ci": wilson(good_taken, taken),
        }
    return out


def decided(
    pairs: Sequence[JudgedPair],
    thresholds,
    similarities: Callable[[list[tuple[str, str]]], list[float]],
) -> dict[int, bool]:
    """The validator's verdict (these thresholds, this embedding model) on each pair,
    keyed by id()."""
    from contrastgen.validation.validator import decide

    sims = similarities([(p.original, p.candidate) for p in pairs])
    return {
        id(p): decide(p.original, p.candidate, p.kind, s, thresholds).valid
        for p, s in zip(pairs, sims, strict=True)
    }


def judged_sets_figures(
    named_paths: Sequence[tuple[str, str | Path]],
    thresholds,
    similarities: Callable[[list[tuple[str, str]]], list[float]],
) -> list[dict[str, Any]]:
    """score() of the run's validator on each judged set of validator.judged: `bundled`
    (the project's held-out pairs) or a user's labels file, saying whose labels they are
    and how many; a labels file is also scored per origin (llm, rule, corpus)."""
    out = []
    for name, path in named_paths:
        if name == BUNDLED:
            pairs = [p for p in load(path) if p.split == "heldout"]
            whose = "the project's labellers (held-out third, docs/judged-set.md)"
        else:
            pairs = read_labels(path)
            whose = ", ".join(sorted({p.by for p in pairs if p.by})) or "unnamed"
        accepted = decided(pairs, thresholds, similarities).__getitem__
        figures = {"name": name, "by": whose, "pairs": len(pairs)}
        if name == BUNDLED:
            figures.update(score(pairs, lambda p, accepted=accepted: accepted(id(p))))
        else:
            # Per origin only: the review sample gives each kind and origin an equal share
            # of the labels, so pooling them would weigh the origins wrongly.
            figures["per_origin"] = {
                origin: score(
                    [p for p in pairs if p.origin == origin],
                    lambda p, accepted=accepted: accepted(id(p)),
                )
                for origin in sorted({p.origin for p in pairs})
            }
        out.append(figures)
    return out


def shown_share(figures: dict[str, Any], key: str) -> str:
    """A share of score() as people read it: "66.7% [20%, 94%]" with its interval where it
    has one, "-" where there was nothing to divide (the card and the report)."""
    if figures[key] is None:
        return "-"
    low, high = figures.get(f"{key}_ci", (None, None))
    interval = "" if low is None else f" [{low:.0%}, {high:.0%}]"
    return f"{figures[key]:.1%}{interval}"


def figure_rows(figures: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(origin, kind, score) rows of one judged set's figures: `all` for the bundled set,
    one per origin for a labels file; what the card and the report show."""
    if "per_origin" in figures:
        return [
            (o, k, s) for o, by_kind in figures["per_origin"].items() for k, s in by_kind.items()
        ]
    return [("all", k, figures[k]) for k in KINDS if k in figures]
