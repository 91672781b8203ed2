"""The validator against the hand-judged set (resources/judged/judged_pairs.jsonl).

Each row is a pair a person judged by reading (docs/judged-set.md has the rules): `label`
true when the candidate is what it claims to be (a faithful positive, a one-fact
negative). A third of the originals, chosen by hash, are `heldout`: never looked at
while the validator was tuned, and the figures users see come from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .files import read_jsonl

JUDGED_SET = Path(__file__).parents[2] / "resources" / "judged" / "judged_pairs.jsonl"


@dataclass(frozen=True)
class JudgedPair:
    original: str
    candidate: str
    kind: str
    label: bool
    note: str
    origin: str
    split: str


def load(path: str | Path = JUDGED_SET) -> list[JudgedPair]:
    return [JudgedPair(**row) for row in read_jsonl(path)]


def score(
    pairs: Iterable[JudgedPair], accepted: Callable[[JudgedPair], bool]
) -> dict[str, dict[str, float | int]]:
    """Per kind: the share of faithful pairs accepted, of changed pairs rejected, and the
    precision of what is accepted (accepted and faithful / accepted)."""
    out = {}
    for kind in ("positive", "negative"):
        rows = [(p.label, accepted(p)) for p in pairs if p.kind == kind]
        good = [a for label, a in rows if label]
        bad = [a for label, a in rows if not label]
        taken = [label for label, a in rows if a]
        out[kind] = {
            "pairs": len(rows),
            "faithful_accepted": round(sum(good) / len(good), 4) if good else 0.0,
            "changed_rejected": round(1 - sum(bad) / len(bad), 4) if bad else 0.0,
            "precision": round(sum(taken) / len(taken), 4) if taken else 0.0,
        }
    return out


def heldout_figures(
    thresholds, similarities: Callable[[list[tuple[str, str]]], list[float]], path=JUDGED_SET
) -> dict[str, dict[str, float | int]]:
    """score() of the validator (these thresholds, this embedding model) on the held-out
    pairs: what a run's stats and dataset card report as its judged precision."""
    from .validator import decide

    pairs = [p for p in load(path) if p.split == "heldout"]
    sims = similarities([(p.original, p.candidate) for p in pairs])
    verdict = {
        id(p): decide(p.original, p.candidate, p.kind, s, thresholds)["valid"]
        for p, s in zip(pairs, sims, strict=True)
    }
    return score(pairs, lambda p: verdict[id(p)])
