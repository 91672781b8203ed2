"""The stages of the workflow as plain functions: ingest, generate, validate, merge.

Rule scripts call exactly one of these. The records flowing between stages are the
types of records.py: IngestItem, MinedNegatives, RoundCandidates, ItemState, OutputRecord.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from . import prompts, spatial
from .cache import ItemCache, digest
from .corpus import check_record, item_id, read_corpus, shard_of
from .diversity import changed_share, pick_diverse, self_bleu
from .engines.base import Backend, Progress
from .errors import UserError
from .files import read_benchmark_tsv, read_jsonl, write_json, write_jsonl
from .generation import Generation, GenParams
from .hardneg import rule_based_negatives
from .judge import JUDGE_PARAMS, combine, judge_request, parse_verdict
from .judge import fingerprint as judge_fingerprint
from .records import (
    UNPARSED,
    Candidate,
    IngestItem,
    ItemState,
    Member,
    MinedNegatives,
    OutputRecord,
    Proposal,
    Rejected,
    RoundCandidates,
)
from .rewrite import rule_based_positives
from .settings import IngestLimits, Targets, Thresholds
from .validator import decide

log = logging.getLogger(__name__)


class BadRecordError(UserError, ValueError):
    """A corpus record is unusable and ingest.on_bad_record is 'error'."""


# ---------------------------------------------------------------- ingest


@dataclass
class _Grouped:
    """The corpus read: usable records grouped into items, and the rest."""

    items: dict[str, IngestItem]
    rejected: list[Rejected]
    ids: int  # distinct usable ids
    records: int  # records with an answer to paraphrase
    without_answer: int  # AVDN turns with no answer (nothing to paraphrase)


def _group_records(corpus: str | Path, limits: IngestLimits, on_bad_record: str) -> _Grouped:
    """Read, normalise and check the corpus; group ids whose normalised text is one."""
    grouped = _Grouped({}, [], 0, 0, 0)
    seen_ids: dict[str, tuple[str, str]] = {}  # id -> (normalised text, source)
    for rec in read_corpus(corpus):
        if rec.no_answer:
            grouped.without_answer += 1
            continue
        grouped.records += 1
        text, reason = check_record(rec, limits)
        if reason is None and rec.id in seen_ids:
            first_text, first_source = seen_ids[rec.id]
            same = "same" if first_text == text else "different"
            reason = f"duplicate id {rec.id!r} ({same} text) first seen at {first_source}"
        if reason is not None:
            if on_bad_record == "error":
                raise BadRecordError(f"{rec.source}: {reason}")
            grouped.rejected.append(Rejected(rec.id, rec.source, reason, rec.instruction))
            continue
        seen_ids[rec.id] = (text, rec.source)
        key = item_id(text)
        # Ids whose texts differ only in case share one generation, but each record
        # keeps its own instruction.
        member = Member(rec.id, rec.source, rec.extra, text)
        if key in grouped.items:
            grouped.items[key].members.append(member)
        else:
            grouped.items[key] = IngestItem(key, text, [member])
    grouped.ids = len(seen_ids)
    return grouped


def ingest(
    corpus: str | Path,
    shard_paths: list[str | Path],
    rejected_path: str | Path,
    limits: IngestLimits,
    on_bad_record: str = "reject",
    summary_path: str | Path | None = None,
) -> dict[str, int]:
    """Read, normalise and check the corpus; write unique items into shards and rejects,
    and the counts (records, ids, items, rejected, turns_without_answer) to `summary_path`."""
    grouped = _group_records(corpus, limits, on_bad_record)
    n = len(shard_paths)
    by_shard: list[list[dict]] = [[] for _ in range(n)]
    for item in grouped.items.values():
        by_shard[shard_of(item.item, n)].append(item.to_json())
    for path, records in zip(shard_paths, by_shard, strict=True):
        write_jsonl(path, records)
    rejected = grouped.rejected
    write_jsonl(rejected_path, [r.to_json() for r in rejected])
    summary = {
        "records": grouped.records,
        "ids": grouped.ids,
        "items": len(grouped.items),
        "rejected": len(rejected),
        "turns_without_answer": grouped.without_answer,
    }
    if rejected:
        reasons = Counter(r.reason.split(":")[0].split(" (")[0] for r in rejected)
        log.warning("rejected %d of %d records: %s", len(rejected), grouped.records, dict(reasons))
    if summary_path is not None:
        write_json(summary_path, summary)
    log.info("ingest: %s", summary)
    return summary


# ---------------------------------------------------------------- mined negatives


def mine(
    shard_paths: list[str | Path],
    out_paths: list[str | Path],
    per_item: int,
    make_embedder: Callable[[], Any],
) -> dict[str, int]:
    """Corpus-mined hard negatives for every item of every shard (mining.py); one output
    file per shard, `{item, candidates}` per line, read by round 0's generate job."""
    from .mining import mine_negatives

    shards = [list(read_jsonl(path)) for path in shard_paths]
    items = [item for shard in shards for item in shard]
    embedder = make_embedder() if len(items) > 1 else None
    mined = mine_negatives(items, embedder.embed if embedder else None, per_item)
    for path, shard in zip(out_paths, shards, strict=True):
        found = [
            MinedNegatives(i["item"], [Proposal.from_json(c) for c in mined[i["item"]]])
            for i in shard
        ]
        write_jsonl(path, [m.to_json() for m in found])
    summary = {"items": len(items), "with_negative": sum(1 for c in mined.values() if c)}
    log.info("mine: %s", summary)
    return summary


# ---------------------------------------------------------------- generate / refine


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


def feedback_for(state: ItemState, max_lines: int = 3) -> list[str]:
    """Plain-words reasons from the latest round's rejected candidates (most common first)."""
    last = max((c.round for c in state.candidates), default=None)
    lines: Counter[str] = Counter()
    for cand in state.candidates:
        if cand.round != last or cand.valid or cand.kind not in ("positive", "negative"):
            continue
        if cand.origin != "llm":
            continue  # a rejected rule edit or corpus text is not the model's to fix
        for reason in cand.reasons[:1]:  # the first reason is the decisive one
            lines[prompts.describe_reason(reason, cand.kind)] += 1
    return [line for line, _ in lines.most_common(max_lines)]


def generation_key(
    context: dict[str, Any], round_: int, instruction: str, feedback, prefill, stop_tag=None
):
    """Cache key of one item's prompt in one round: everything that shapes its generations.

    `context` is the backend's identity (engines.cache_identity: backend, model, numerics,
    sampling params); batching knobs (strategy, batch size, prefix cache) are left out on
    purpose: they change speed, not what the model is asked.
    """
    return digest(
        {
            "prompt": prompts.fingerprint(),
            **context,
            "round": round_,
            "instruction": instruction,
            "feedback": list(feedback),
            "prefill": prefill,
            "stop_tag": stop_tag,
        }
    )


@dataclass
class Ask:
    """What one item asks of this round: its prompt, and the candidates of other origins."""

    state: ItemState
    prefill: str
    feedback: list[str]
    stop_tag: str | None  # end the answer at this line tag (positives only)
    key: str | None  # generation cache key; None when the LLM is not needed
    other: list[Proposal]  # round 0's rule-based and corpus-mined negatives


def other_candidates(
    state: ItemState,
    rule_positives: int,
    rule_negatives: int,
    mined: dict[str, list[Proposal]] | None,
) -> list[Proposal]:
    """Round 0's candidates from beside the LLM: rule-made positives, rule-edited
    negatives, then corpus-mined negatives."""
    out = [
        Proposal(text, "positive", "rule", edit=edit)
        for edit, text in rule_based_positives(state.instruction, rule_positives, state.item)
    ]
    out += [
        Proposal(text, "negative", "rule", edit=edit)
        for edit, text in rule_based_negatives(state.instruction, rule_negatives, state.item)
    ]
    return out + list((mined or {}).get(state.item, []))


def generate(
    work: Iterable[dict[str, Any]],
    round_: int,
    out_path: str | Path,
    targets: Targets,
    make_backend: Callable[[], Backend],
    params: GenParams,
    rule_positives: int = 0,
    rule_negatives: int = 0,
    cache: ItemCache | None = None,
    cache_context: dict[str, Any] | None = None,
    mined: dict[str, list[Proposal]] | None = None,
    judge: bool = False,
) -> dict[str, int]:
    """Prompt the LLM for every item that still misses its targets; write candidates.

    `work` is the ingest shard (round 0) or the previous round's validate state. Items
    whose prompt is in `cache` are answered from it; the rest go to the backend, which
    hands back each finished batch (or request) to be written to the cache at once, so a
    killed job resumes where it stopped. The backend is made only when something misses
    the cache, so a finished or cached shard loads no model. Each request has its own
    answer budget (prompts.answer_token_budget, capped by `params.max_new_tokens`); an
    answer cut off by its budget loses its last line (counted as `cut_lines`), never
    judged as a candidate.

    In round 0, `rule_positives` and `rule_negatives` > 0 add that many rule-made
    positives (rewrite.py) and rule-edited hard negatives (hardneg.py) per item (origin
    "rule"), and `mined` (item -> candidates, from `mine`) the corpus-mined ones
    (origin "corpus"), after the LLM's candidates. An item with rule negatives asks the
    LLM for positives only: its answer stops at the NEGATIVE line (about a third of the
    tokens), and should the validator reject every other negative, the next round asks
    the LLM for one.

    With `judge`, the same backend then judges every candidate of the round against its
    original (judge.py; answers cached per pair and model); the validate stage combines
    each answer with the rules' decision.
    """
    asks = [
        ask
        for state in round_input(work, round_)
        if (ask := _ask(state, round_, targets, cache_context or {}, rule_positives,
                        rule_negatives, mined)) is not None
    ]  # fmt: skip
    keys = [a.key for a in asks if a.key is not None]
    cached = cache.lookup(keys) if cache else {}
    misses = [a for a in asks if a.key is not None and a.key not in cached]
    backend = _JobBackend(make_backend)
    try:
        fresh = _generate_misses(misses, round_, backend, params, cache) if misses else {}
        written_at = time.time()
        out = [_round_candidates(ask, round_, cached, fresh, written_at) for ask in asks]
        if judge:
            originals = {a.state.item: a.state.instruction for a in asks}
            _judge(out, originals, backend, cache, cache_context or {})
    finally:
        backend.close()
    if backend.made is None:
        log.info("round %d: nothing to send to the LLM; model not loaded", round_)
    write_jsonl(out_path, [r.to_json() for r in out])
    summary = {
        "prompted": len(out),
        "sent_to_llm": len(fresh),
        "cache_hits": sum(r.cached for r in out),
    }
    log.info("round %d: %s, %d candidates", round_, summary, sum(len(r.candidates) for r in out))
    return summary


def _ask(
    state: ItemState,
    round_: int,
    targets: Targets,
    cache_context: dict[str, Any],
    rule_positives: int,
    rule_negatives: int,
    mined: dict[str, list[Proposal]] | None,
) -> Ask | None:
    """What `state` asks of this round, or None when it has its targets."""
    need_pos, need_neg = needs(state, targets)
    if not (need_pos or need_neg):
        return None
    other = other_candidates(state, rule_positives, rule_negatives, mined) if round_ == 0 else []
    # Only the item's own rule edits decide what the LLM is asked: the corpus-mined
    # ones change when the corpus grows, and an item's prompt (so its cache key) must
    # depend on the item alone, or a grown corpus would regenerate old items.
    has_rule = any(c.origin == "rule" and c.kind == "negative" for c in other)
    llm_neg = 0 if has_rule else need_neg
    fb = feedback_for(state) if round_ else []
    prefill = prompts.first_tag(need_pos, llm_neg)
    stop_tag = "NEGATIVE" if need_pos and not llm_neg else None
    key = None
    if need_pos or llm_neg:
        key = generation_key(cache_context, round_, state.instruction, fb, prefill, stop_tag)
    return Ask(state, prefill, fb, stop_tag, key, other)


class _JobBackend:
    """The job's backend, made on first use (a shard served from the cache loads no
    model) and shared by generation and the judge."""

    def __init__(self, make: Callable[[], Backend]):
        self.make, self.made = make, None

    def get(self) -> Backend:
        if self.made is None:
            self.made = self.make()
        return self.made

    def close(self) -> None:
        if self.made is not None:
            self.made.close()


def _judge(
    out: list[RoundCandidates],
    originals: dict[str, str],
    backend: _JobBackend,
    cache: ItemCache | None,
    cache_context: dict[str, Any],
) -> None:
    """Ask the judge about every candidate of the round (greedy); its answers go on the
    proposals. Answers are cached per (judge prompt, backend and model, pair)."""
    identity = {k: v for k, v in cache_context.items() if k != "params"}
    pairs = [(p, originals[r.item]) for r in out for p in r.candidates]
    keys = [judge_key(identity, original, p.text) for p, original in pairs]
    known = cache.lookup(keys) if cache else {}
    todo = sorted(
        {k: (original, p.text) for k, (p, original) in zip(keys, pairs, strict=True)}.items()
    )
    todo = [(k, pair) for k, pair in todo if k not in known]
    if todo:
        requests = [judge_request(original, text) for _, (original, text) in todo]

        def checkpoint(indices: list[int], gens: list[list[Generation]]) -> None:
            answers = [(todo[j][0], g[0].text) for j, g in zip(indices, gens, strict=True)]
            known.update(answers)
            if cache:  # at once, as generations are: a killed job keeps what was judged
                cache.put_many(answers)

        progress = Progress(len(requests), "judge")
        try:
            backend.get().generate(requests, JUDGE_PARAMS, checkpoint, progress)
        finally:
            progress.close()
    for (proposal, _), key in zip(pairs, keys, strict=True):
        proposal.judge_answer = known[key]
    log.info("judge: %d candidates, %d answers asked", len(pairs), len(todo))


def judge_key(identity: dict[str, Any], original: str, candidate: str) -> str:
    return digest({"judge": judge_fingerprint(), **identity, "pair": [original, candidate]})


def _generate_misses(
    misses: list[Ask],
    round_: int,
    backend: _JobBackend,
    params: GenParams,
    cache: ItemCache | None,
) -> dict[str, list[dict]]:
    """The generations of the asks the cache missed, by key; each finished request is
    written to the cache at once."""
    requests = [
        prompts.item_request(
            a.state.instruction, a.feedback, a.prefill, a.stop_tag, params.max_new_tokens
        )
        for a in misses
    ]
    fresh: dict[str, list[dict]] = {}

    def checkpoint(indices: list[int], generations: list[list[Generation]]) -> None:
        entries = []
        for j, gens in zip(indices, generations, strict=True):
            value = [g.to_json() for g in gens]
            fresh[misses[j].key] = value
            entries.append((misses[j].key, value))
        if cache:
            cache.put_many(entries)

    progress = Progress(len(requests), f"round {round_}")
    try:
        _, metrics = backend.get().generate(requests, params, checkpoint, progress)
    finally:
        progress.close()
    log.info("round %d: %s", round_, metrics.to_json())
    return fresh


def _round_candidates(
    ask: Ask,
    round_: int,
    cached: dict[str, list[dict]],
    fresh: dict[str, list[dict]],
    written_at: float,
) -> RoundCandidates:
    """One item's candidates of this round: the LLM's parsed answers, then the others."""
    gens = [] if ask.key is None else fresh.get(ask.key) or cached[ask.key]
    candidates, unparsed, cut_lines = [], [], 0
    for gen in gens:
        finished = gen.get("finished", True)
        parsed, junk, cut = prompts.parse_output(gen["text"], ask.prefill, finished)
        candidates += [Proposal(c.text, c.kind, "llm") for c in parsed]
        cut_lines += cut is not None
        if not parsed and cut is None:
            unparsed.append(gen["text"])
        elif junk:
            log.debug("ignored lines for %s: %s", ask.state.item, junk)
    return RoundCandidates(
        item=ask.state.item,
        round=round_,
        candidates=candidates + ask.other,
        unparsed=unparsed,
        feedback=ask.feedback,
        asked_llm=ask.key is not None,
        cached=ask.key is not None and ask.key not in fresh,
        written_at=written_at,
        cut_lines=cut_lines,
        new_tokens=sum(g["new_tokens"] for g in gens),
    )


# ---------------------------------------------------------------- validate


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


def status_of(state: ItemState, targets: Targets) -> str:
    if not any(needs(state, targets)):
        return "complete"
    return "partial" if state.positives or state.negatives else "failed"


# ---------------------------------------------------------------- merge


def merge(
    state_paths: list[str | Path],
    candidate_paths: list[str | Path],
    rejected_path: str | Path,
    out_path: str | Path,
    stats_path: str | Path,
    max_rounds: int,
    stage_seconds: dict[str, float] | None = None,
    run_started: float | None = None,
    ingest_summary: dict[str, int] | None = None,
    *,
    made: dict[str, Any],
    judged: list[dict[str, Any]] | None = None,
) -> dict:
    """One output record per ingested id, and the run's stats.

    `made` (records.made_by) goes on every record and into the stats; `judged` is the
    run's validator on each judged set of validator.judged (judged.judged_sets_figures).
    Per origin the stats give acceptance, the share of the accepted pairs and how far accepted
    positives move from the original (word edits).

    `run_started` (epoch seconds of this snakemake invocation) tells which candidate files
    this run wrote, for what this run cost: `generated_items` (distinct items sent to the
    LLM), `llm_prompts` and `cache_hits` (item-round prompts sent, answered from the
    cache). Files from jobs that did not rerun count as `prompts_from_earlier_runs`.
    """
    per_round: dict[int, RoundTally] = {r: RoundTally() for r in range(max_rounds + 1)}
    states = _tally_states(state_paths, per_round, made)
    cost, sent_items = _tally_prompts(candidate_paths, per_round, run_started)
    records = sorted(states.records, key=lambda r: r.id)
    write_jsonl(out_path, [r.to_json() for r in records])
    n_rejected = sum(1 for _ in read_jsonl(rejected_path))
    ingested = len(records)
    status = states.status
    stats = {
        "ingested": ingested,
        "unique_items": states.items,
        "rejected": n_rejected,
        # AVDN turns with no answer by design (turn 0): neither records nor rejects.
        "turns_without_answer": (ingest_summary or {}).get("turns_without_answer", 0),
        "complete": status["complete"],
        "partial": status["partial"],
        "failed": status["failed"],
        "complete_share": round(status["complete"] / ingested, 4) if ingested else 0.0,
        "generated_items": len(sent_items),
        "llm_prompts": cost["llm_prompts"],
        "cache_hits": cost["cache_hits"],
        "prompts_from_earlier_runs": cost["prompts_from_earlier_runs"],
        "few_shot_leak_rate": share(
            sum(t.few_shot_leaks for t in per_round.values()),
            sum(t.llm_candidates for t in per_round.values()),
        ),
        "per_round": {str(r): t.to_json() for r, t in sorted(per_round.items())},
        "per_origin": _per_origin(states),
        "judge": {k: states.judge[k] for k in ("judged", "unparsed", "rejected", "overruled")},
        # over items with two or more kept positives; lower is more varied
        "positives_self_bleu": mean_or_none(states.self_bleu["all"]),
        "kept_positive_changed_share_median": median_or_zero(
            [v for (_, k), vs in states.kept_shares.items() if k == "positive" for v in vs]
        ),
        "judged_sets": judged or [],
        "made_by": made,
        "stage_wall_s": stage_seconds or {},
    }
    write_json(stats_path, stats)
    log.info(
        "merge: %d records (%d complete), %d rejected", ingested, status["complete"], n_rejected
    )
    return stats


@dataclass
class _StateTally:
    """What merge reads from the final states: the output records and the counts."""

    records: list[OutputRecord] = field(default_factory=list)
    items: int = 0
    status: Counter = field(default_factory=Counter)  # per output record (id)
    by_origin: dict[tuple[str, str], Counter] = field(default_factory=lambda: defaultdict(Counter))
    # the accepted pairs, by (origin, kind)
    kept: dict[tuple[str, str], list[Candidate]] = field(default_factory=lambda: defaultdict(list))
    kept_shares: dict[tuple[str, str], list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # self-BLEU of an item's kept positives: of each origin's, and of all of them
    self_bleu: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    judge: Counter = field(default_factory=Counter)  # what the model judge did


def _tally_states(
    state_paths: list[str | Path], per_round: dict[int, RoundTally], made: dict[str, Any]
) -> _StateTally:
    tally = _StateTally()
    for path in state_paths:
        for state in map(ItemState.from_json, read_jsonl(path)):
            tally.items += 1
            for cand in state.candidates:
                per_round.setdefault(cand.round, RoundTally()).count(cand, state.instruction)
                tally.by_origin[(cand.origin, cand.kind)]["candidates"] += 1
                tally.by_origin[(cand.origin, cand.kind)]["valid"] += cand.valid
                _tally_judge(tally.judge, cand)
            if state.completed_round is not None:
                per_round[state.completed_round].items_completed += 1
            _tally_kept(tally, state)
            for member in state.members:
                tally.status[state.status] += 1
                tally.records.append(OutputRecord.of(member, state, made))
    return tally


def _tally_judge(counts: Counter, cand: Candidate) -> None:
    """validator.judge: llm: candidates judged, answers that did not parse, rejections
    the judge made (`judge_differs`, `judge_same`) and wording rejections it overruled."""
    if "judge" not in cand.scores and "judge_unparsed" not in cand.scores:
        return
    counts["judged"] += 1
    counts["unparsed"] += cand.scores.get("judge_unparsed", False)
    counts["rejected"] += any(r["code"] in ("judge_differs", "judge_same") for r in cand.reasons)
    counts["overruled"] += "judge_overruled" in cand.scores


def _tally_kept(tally: _StateTally, state: ItemState) -> None:
    kept = accepted(state)
    by_origin: dict[str, list[str]] = defaultdict(list)
    for cand in kept:
        tally.kept[(cand.origin, cand.kind)].append(cand)
        share_ = changed_share(state.instruction, cand.text)
        tally.kept_shares[(cand.origin, cand.kind)].append(share_)
        if cand.kind == "positive":
            by_origin[cand.origin].append(cand.text)
    groups = {**by_origin, "all": [t for texts in by_origin.values() for t in texts]}
    for name, texts in groups.items():
        if (score := self_bleu(texts)) is not None:
            tally.self_bleu[name].append(score)


def _tally_prompts(
    candidate_paths: list[str | Path], per_round: dict[int, RoundTally], run_started: float | None
) -> tuple[Counter, set[str]]:
    """Per round what was prompted; for this run what it cost (prompts sent, cache hits,
    prompts of files earlier runs wrote) and which items it sent to the LLM."""
    cost: Counter = Counter()
    sent_items: set[str] = set()
    for path in candidate_paths:
        for batch in map(RoundCandidates.from_json, read_jsonl(path)):
            tally = per_round.setdefault(batch.round, RoundTally())
            tally.prompted_items += 1
            tally.cache_hits += batch.cached
            tally.new_tokens += batch.new_tokens
            tally.cut_lines += batch.cut_lines
            if not batch.asked_llm:
                continue  # only other origins' candidates: nothing was asked of the LLM
            if run_started is not None and batch.written_at < run_started:
                cost["prompts_from_earlier_runs"] += 1
            elif batch.cached:
                cost["cache_hits"] += 1
            else:
                cost["llm_prompts"] += 1
                sent_items.add(batch.item)
    return cost, sent_items


def _per_origin(tally: _StateTally) -> dict[str, dict[str, Any]]:
    """stats.json's per_origin: acceptance, and of the pairs the dataset keeps the count,
    share, word edits, median share of the original's words changed and (positives) the
    mean self-BLEU of an item's kept positives of that origin, per origin and kind."""
    out = {}
    for (origin, kind), c in sorted(tally.by_origin.items()):
        if kind == "unparsed":
            continue
        kept = tally.kept[(origin, kind)]
        out[f"{origin}_{kind}"] = {
            "candidates": c["candidates"],
            "valid": c["valid"],
            "acceptance": share(c["valid"], c["candidates"]),
            "kept": len(kept),
            "share_of_kept": share(
                len(kept), sum(len(v) for (_, k), v in tally.kept.items() if k == kind)
            ),
            "kept_word_edits": edit_summary([k.scores.get("word_edits", 0) for k in kept]),
            "kept_changed_share_median": median_or_zero(tally.kept_shares[(origin, kind)]),
        }
        if kind == "positive":
            out[f"{origin}_{kind}"]["positives_self_bleu"] = mean_or_none(tally.self_bleu[origin])
    return out


def median_or_zero(values: list[float]) -> float:
    return round(median(values), 4) if values else 0.0


def mean_or_none(values: list[float]) -> float | None:
    """A mean over items; None where no item had two texts to compare."""
    return round(sum(values) / len(values), 4) if values else None


def accepted(state: ItemState) -> list[Candidate]:
    """The candidates behind an item's kept positives and negatives, in the order kept."""
    first: dict[tuple[str, str], Candidate] = {}
    for cand in state.candidates:
        if cand.valid:
            first.setdefault((cand.kind, cand.text), cand)
    kept = [("positive", t) for t in state.positives] + [("negative", t) for t in state.negatives]
    return [first[key] for key in kept if key in first]


def edit_summary(edits: list[int]) -> dict[str, float]:
    """Word edit distances of accepted pairs: mean, median and the share under 3 (a
    dropped "ok", one swapped word: what validator.thresholds.positive_min_word_edits can
    drop)."""
    if not edits:
        return {"mean": 0.0, "median": 0.0, "under_3": 0.0}
    return {
        "mean": round(sum(edits) / len(edits), 2),
        "median": float(median(edits)),
        "under_3": share(sum(e < 3 for e in edits), len(edits)),
    }


def share(part: int, total: int) -> float:
    return round(part / total, 4) if total else 0.0


@dataclass
class RoundTally:
    """One round's numbers in stats.json (`per_round`)."""

    prompted_items: int = 0
    cache_hits: int = 0
    positive_candidates: int = 0
    positive_valid: int = 0
    negative_candidates: int = 0
    negative_valid: int = 0
    unparsed: int = 0
    rule_negative_candidates: int = 0
    rule_negative_valid: int = 0
    items_completed: int = 0
    new_tokens: int = 0
    llm_candidates: int = 0
    llm_valid: int = 0
    cut_lines: int = 0
    duplicates: int = 0
    few_shot_leaks: int = 0

    def count(self, cand: Candidate, instruction: str) -> None:
        if cand.kind == "positive":
            self.positive_candidates += 1
            self.positive_valid += cand.valid
        elif cand.kind == "negative":
            self.negative_candidates += 1
            self.negative_valid += cand.valid
        else:
            self.unparsed += 1
        if cand.origin == "rule" and cand.kind == "negative":  # rule positives are not
            self.rule_negative_candidates += 1
            self.rule_negative_valid += cand.valid
        if cand.origin == "llm" and cand.kind != UNPARSED:
            self.llm_candidates += 1
            self.llm_valid += cand.valid
            self.few_shot_leaks += prompts.few_shot_leak(instruction, cand.text)
            self.duplicates += any(r["code"] == "duplicate" for r in cand.reasons)

    def to_json(self) -> dict[str, Any]:
        return {
            "prompted_items": self.prompted_items,
            "cache_hits": self.cache_hits,
            "positive_candidates": self.positive_candidates,
            "positive_valid": self.positive_valid,
            "positive_acceptance": share(self.positive_valid, self.positive_candidates),
            "negative_candidates": self.negative_candidates,
            "negative_valid": self.negative_valid,
            "negative_acceptance": share(self.negative_valid, self.negative_candidates),
            "unparsed": self.unparsed,
            "rule_negative_candidates": self.rule_negative_candidates,
            "rule_negative_valid": self.rule_negative_valid,
            "items_completed": self.items_completed,
            "new_tokens": self.new_tokens,
            # what a round's generation buys: accepted LLM candidates per 1,000 new tokens
            "llm_valid_per_1k_tokens": (
                round(1000 * self.llm_valid / self.new_tokens, 2) if self.new_tokens else 0.0
            ),
            "cut_lines": self.cut_lines,
            "duplicates": self.duplicates,
            "few_shot_leaks": self.few_shot_leaks,
            "few_shot_leak_rate": share(self.few_shot_leaks, self.llm_candidates),
        }


def stage_seconds(benchmarks: dict[str, list[str | Path]]) -> dict[str, float]:
    """Wall seconds per stage: {stage: its jobs' Snakemake benchmark TSVs}, summed."""
    totals: dict[str, float] = {}
    for stage, files in benchmarks.items():
        for path in files:
            row = read_benchmark_tsv(path)
            if row is not None:
                totals[stage] = round(totals.get(stage, 0.0) + float(row["s"]), 2)
    return totals
