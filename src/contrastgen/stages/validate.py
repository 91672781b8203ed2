"""The validate stage: decide a round's candidates and carry every item's state forward."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from contrastgen.cache import ItemCache, digest
from contrastgen.files import read_jsonl, write_jsonl
from contrastgen.records import Candidate, ItemState, RoundCandidates
from contrastgen.settings import Targets, Thresholds
from contrastgen.stages.rounds import round_input, status_of
from contrastgen.validation.diversity import pick_diverse
from contrastgen.validation.judge import combine, parse_verdict
from contrastgen.validation.validator import decide

log = logging.getLogger(__name__)


def validate(
    previous: Iterable[dict[str, Any]],
    candidates_path: str | Path,
    round_: int,
    out_path: str | Path,
    targets: Targets,
    thresholds: Thresholds,
    make_embedder: Callable[[], Any],
    cache: ItemCache | None = None,
    validator_identity: dict[str, Any] | None = None,
) -> dict[str, int]:
    """Decide this round's candidates and carry every item's state forward.

    `previous` is the ingest shard (round 0) or the previous round's state. Items with
    no new candidates pass through untouched. The costly part, the embedding similarity
    of (instruction, candidate), is cached per pair and validator model; the decision
    itself is recomputed every time (a pure, fast function of the similarity, the
    spatial facts and the thresholds), so new thresholds apply without a model load.
    The embedder is loaded only for pairs not in the cache.
    """
    states = round_input(previous, round_)
    new = {r.item: r for r in map(RoundCandidates.from_json, read_jsonl(candidates_path))}
    pending = _take_candidates(states, new, round_)
    if pending:
        sims = _similarities(pending, round_, make_embedder, cache, validator_identity or {})
        for (state, entry, answer), sim in zip(pending, sims, strict=True):
            decision = decide(state.instruction, entry.text, entry.kind, sim, thresholds)
            if answer is not None:  # validator.judge: llm
                decision = combine(decision, entry.kind, parse_verdict(answer))
            entry.decided(decision)
    for state in states:
        _accept(state, round_, targets)
    write_jsonl(out_path, [s.to_json() for s in states])
    summary = Counter(s.status for s in states)
    log.info("round %d: decided %d candidates; %s", round_, len(pending), dict(summary))
    return dict(summary)


def _take_candidates(
    states: list[ItemState], new: dict[str, RoundCandidates], round_: int
) -> list[tuple[ItemState, Candidate, str | None]]:
    """Add this round's candidates to their items' states; the ones to decide, with the
    judge's answer (a text an item has seen before is a duplicate, decided here)."""
    pending: list[tuple[ItemState, Candidate, str | None]] = []
    for state in states:
        batch = new.get(state.item)
        if batch is None:
            continue
        state.rounds = round_ + 1
        seen = {c.text.lower() for c in state.candidates}
        for text in batch.unparsed:
            state.candidates.append(Candidate.unparsed(text, round_))
        for proposal in batch.candidates:
            entry = Candidate.proposed(proposal, round_)
            state.candidates.append(entry)
            if proposal.text.lower() in seen:
                entry.reasons = [{"code": "duplicate"}]
                continue
            seen.add(proposal.text.lower())
            pending.append((state, entry, proposal.judge_answer))
    return pending


def _similarities(
    pending: list[tuple[ItemState, Candidate, str | None]],
    round_: int,
    make_embedder: Callable[[], Any],
    cache: ItemCache | None,
    validator_identity: dict[str, Any],
) -> list[float]:
    """The (instruction, candidate) similarity of every pending pair: from the cache,
    else computed in one batch (the embedder loads only then) and cached."""
    keys = [digest([validator_identity, s.instruction, e.text]) for s, e, _ in pending]
    known = cache.lookup(keys) if cache else {}
    todo = sorted(
        {
            (key, state.instruction, entry.text)
            for key, (state, entry, _) in zip(keys, pending, strict=True)
            if key not in known
        }
    )
    if todo:
        sims = make_embedder().similarities([(a, b) for _, a, b in todo])
        new_sims = [(k, sim) for (k, _, _), sim in zip(todo, sims, strict=True)]
        if cache:
            cache.put_many(new_sims)
        known.update(new_sims)
    log.info(
        "round %d: %d similarities from the cache, %d computed",
        round_,
        len(pending) - len(todo),
        len(todo),
    )
    return [known[key] for key in keys]


def _accept(state: ItemState, round_: int, targets: Targets) -> None:
    """Keep the round's valid candidates up to the targets; set the item's status.

    Positives: when more pass than there are slots, the ones that differ most from the
    original and from each other (diversity.pick_diverse). Negatives: in order.
    """
    valid = [e for e in state.candidates if e.round == round_ and e.valid]
    state.positives += pick_diverse(
        state.instruction,
        state.positives,
        [e.text for e in valid if e.kind == "positive"],
        targets.positives - len(state.positives),
    )
    negatives = [e.text for e in valid if e.kind == "negative"]
    state.negatives += negatives[: max(0, targets.negatives - len(state.negatives))]
    state.status = status_of(state, targets)
    if state.status == "complete" and state.completed_round is None:
        state.completed_round = round_
