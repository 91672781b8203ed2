"""The merge stage: one output record per ingested id, and the run's stats."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from contrastgen.files import read_jsonl, write_json, write_jsonl
from contrastgen.stages.merge_stats import (
    RoundTally,
    mean_or_none,
    median_or_zero,
    per_origin,
    share,
    tally_prompts,
    tally_states,
)

log = logging.getLogger(__name__)


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
    states = tally_states(state_paths, per_round, made)
    cost, sent_items = tally_prompts(candidate_paths, per_round, run_started)
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
        "per_origin": per_origin(states),
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
