"""The generate stage (round 0 and every refine round): prompt the model for what each
item still misses, add round 0's rule-made and corpus-mined candidates, and, with
`validator.judge: llm`, ask the judge about every candidate."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contrastgen.backends.base import Backend, Progress
from contrastgen.cache import ItemCache, digest
from contrastgen.candidates import prompts
from contrastgen.candidates.rule_negatives import rule_based_negatives
from contrastgen.candidates.rule_positives import rule_based_positives
from contrastgen.files import write_jsonl
from contrastgen.generation import Generation, GenParams
from contrastgen.records import ItemState, Proposal, RoundCandidates
from contrastgen.settings import Targets
from contrastgen.stages.rounds import needs, round_input
from contrastgen.validation.judge import JUDGE_PARAMS, judge_request
from contrastgen.validation.judge import fingerprint as judge_fingerprint
from contrastgen.validation.reasons import describe_reason

log = logging.getLogger(__name__)


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
            lines[describe_reason(reason, cand.kind)] += 1
    return [line for line, _ in lines.most_common(max_lines)]


def generation_key(
    context: dict[str, Any], round_: int, instruction: str, feedback, prefill, stop_tag=None
):
    """Cache key of one item's prompt in one round: everything that shapes its generations.

    `context` is the backend's identity (backends.cache_identity: backend, model, numerics,
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
    positives (candidates.rule_positives) and rule-edited hard negatives
    (candidates.rule_negatives) per item (origin "rule"), and `mined` (item ->
    candidates, from `mine`) the corpus-mined ones (origin "corpus"), after the LLM's
    candidates. An item with rule negatives asks the LLM for positives only: its answer
    stops at the NEGATIVE line (about a third of the tokens), and should the validator
    reject every other negative, the next round asks the LLM for one.

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
