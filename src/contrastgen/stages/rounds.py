"""An item's state across generate / validate rounds: where a round starts, what the
item still needs, and its status."""

from __future__ import annotations

from contrastgen.language import spatial
from contrastgen.records import Candidate, IngestItem, ItemState
from contrastgen.settings import Targets


def start_state(item: IngestItem) -> ItemState:
    """An ingested item before round 0: its spatial facts, nothing generated yet."""
    return ItemState.start(item, spatial.extract(item.instruction).to_json())


def round_input(records, round_: int) -> list[ItemState]:
    """What round `round_` starts from: the ingest shard (round 0) or the previous
    round's validate states."""
    if round_ == 0:
        return [start_state(IngestItem.from_json(r)) for r in records]
    return [ItemState.from_json(r) for r in records]


def needs(state: ItemState, targets: Targets) -> tuple[int, int]:
    return (
        max(0, targets.positives - len(state.positives)),
        max(0, targets.negatives - len(state.negatives)),
    )


def status_of(state: ItemState, targets: Targets) -> str:
    if not any(needs(state, targets)):
        return "complete"
    return "partial" if state.positives or state.negatives else "failed"


def accepted(state: ItemState) -> list[Candidate]:
    """The candidates behind an item's kept positives and negatives, in the order kept."""
    first: dict[tuple[str, str], Candidate] = {}
    for cand in state.candidates:
        if cand.valid:
            first.setdefault((cand.kind, cand.text), cand)
    kept = [("positive", t) for t in state.positives] + [("negative", t) for t in state.negatives]
    return [first[key] for key in kept if key in first]
