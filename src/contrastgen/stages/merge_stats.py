"""What merge counts for stats.json: per round, per origin, the judge, the cost of a run,
and each stage's wall time from its jobs' Snakemake benchmark files."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from contrastgen.candidates import prompts
from contrastgen.files import read_benchmark_tsv, read_jsonl
from contrastgen.records import (
    UNPARSED,
    Candidate,
    ItemState,
    OutputRecord,
    RoundCandidates,
)
from contrastgen.stages.rounds import accepted
from contrastgen.validation.diversity import changed_share, self_bleu


@dataclass
class StateTally:
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


def tally_states(
    state_paths: list[str | Path], per_round: dict[int, RoundTally], made: dict[str, Any]
) -> StateTally:
    tally = StateTally()
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


def _tally_kept(tally: StateTally, state: ItemState) -> None:
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


def tally_prompts(
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


def per_origin(tally: StateTally) -> dict[str, dict[str, Any]]:
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
