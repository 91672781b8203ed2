"""What users see of a run: report figures and tables, the end-of-run summary."""

from __future__ import annotations

import html
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contrastgen.files import read_jsonl, write_figure, write_text
from contrastgen.records import OutputRecord
from contrastgen.validation.judged import figure_rows, shown_share


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def flat_stats(stats: dict[str, Any]) -> list[tuple[str, Any]]:
    """The run-level numbers of stats.json as (name, value) rows, in file order."""
    rows = [(k, v) for k, v in stats.items() if not isinstance(v, dict | list)]
    for name, c in stats.get("per_origin", {}).items():
        rows.append(
            (f"accepted: {name}", f"{c['valid']}/{c['candidates']} ({c['acceptance']:.1%})")
        )
        rows.append(
            (f"kept, median share of words changed: {name}", c.get("kept_changed_share_median"))
        )
        if "positives_self_bleu" in c:
            rows.append((f"kept positives, self-BLEU: {name}", c["positives_self_bleu"]))
    for r, c in stats.get("per_round", {}).items():
        rows.append((f"round {r}: LLM valid per 1k tokens", c.get("llm_valid_per_1k_tokens")))
        rows.append((f"round {r}: few-shot leak rate", c.get("few_shot_leak_rate")))
    for figures in stats.get("judged_sets", []):
        for origin, kind, s in figure_rows(figures):
            name = f"judged {kind}s ({origin}): {figures['name']}"
            rows.append((name, _judged_cell(s, figures["by"])))
    if stats.get("judge", {}).get("judged"):
        rows += [(f"model judge: {k}", v) for k, v in stats["judge"].items()]
    rows += [(f"wall s: {k}", v) for k, v in stats.get("stage_wall_s", {}).items()]
    return rows


def _judged_cell(s: dict[str, Any], by: str) -> str:
    return (
        f"precision {shown_share(s, 'precision')}, recall "
        f"{shown_share(s, 'faithful_accepted')} on {s['pairs']} pairs labelled by {by}"
    )


def stats_table_html(stats: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr><th scope="row">{html.escape(str(k))}</th><td data-key="{html.escape(str(k))}">'
        f"{html.escape(str(v))}</td></tr>"
        for k, v in flat_stats(stats)
    )
    return _page("Run statistics", f'<table id="stats">{rows}</table>')


def samples_html(records: list[OutputRecord], n: int = 20, seed: int = 0) -> str:
    """A seeded sample of records: original, accepted positives and negatives, status."""
    picked = random.Random(seed).sample(records, min(n, len(records)))
    picked.sort(key=lambda r: r.id)
    rows = []
    for r in picked:
        pos = "".join(f"<li>{html.escape(t)}</li>" for t in r.positives)
        neg = "".join(f"<li>{html.escape(t)}</li>" for t in r.negatives)
        rows.append(
            f"<tr><td>{html.escape(r.id)}</td><td>{html.escape(r.status)}</td>"
            f"<td>{html.escape(r.instruction)}</td><td><ul>{pos}</ul></td>"
            f"<td><ul>{neg}</ul></td></tr>"
        )
    head = (
        "<tr><th>id</th><th>status</th><th>original</th><th>positives</th><th>negatives</th></tr>"
    )
    return _page(f"{len(picked)} sample records", f"<table>{head}{''.join(rows)}</table>")


def _page(title: str, body: str) -> str:
    style = (
        "body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{style}</style></head><body><h3>{title}</h3>{body}</body></html>\n"
    )


def plot_acceptance(stats: dict[str, Any], path: str | Path) -> None:
    plt = _plt()
    rounds = sorted(stats["per_round"], key=int)
    pos = [stats["per_round"][r]["positive_acceptance"] * 100 for r in rounds]
    neg = [stats["per_round"][r]["negative_acceptance"] * 100 for r in rounds]
    x = range(len(rounds))
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar([i - 0.2 for i in x], pos, width=0.4, label="positives", color="#4c72b0")
    ax.bar([i + 0.2 for i in x], neg, width=0.4, label="negatives", color="#dd8452")
    ax.set_xticks(list(x), [f"round {r}" for r in rounds])
    ax.set_ylabel("candidates accepted (%)")
    ax.legend()
    fig.tight_layout()
    write_figure(path, fig, dpi=110)


def unique_items(records: list[OutputRecord]) -> list[OutputRecord]:
    """One record per item: ids with the same instruction share one generation."""
    seen: set[str] = set()
    out = []
    for r in records:
        if r.instruction not in seen:
            seen.add(r.instruction)
            out.append(r)
    return out


def plot_scores(records: list[OutputRecord], path: str | Path) -> None:
    """Similarity of candidates to their instruction, accepted vs rejected, per kind."""
    plt = _plt()
    items = unique_items(records)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, kind in zip(axes, ("positive", "negative"), strict=True):
        for valid, color in ((True, "#55a868"), (False, "#c44e52")):
            sims = [
                c.scores["similarity"]
                for r in items
                for c in r.candidates
                if c.kind == kind and c.valid == valid and "similarity" in c.scores
            ]
            label = f"{'accepted' if valid else 'rejected'} ({len(sims)})"
            ax.hist(sims, bins=20, range=(0, 1), alpha=0.6, color=color, label=label)
        ax.set_title(f"{kind}s", fontsize=10)
        ax.set_xlabel("similarity to the instruction")
        ax.legend(fontsize=8)
    fig.tight_layout()
    write_figure(path, fig, dpi=110)


def rejection_reasons(records: list[OutputRecord]) -> Counter:
    """Decisive (first) reason of every rejected candidate, counted once per item."""
    counts: Counter = Counter()
    for r in unique_items(records):
        for c in r.candidates:
            if not c.valid and c.reasons:
                counts[f"{c.kind}: {c.reasons[0]['code']}"] += 1
    return counts


def plot_reasons(records: list[OutputRecord], path: str | Path, top: int = 12) -> None:
    plt = _plt()
    common = rejection_reasons(records).most_common(top)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * max(len(common), 3) + 1))
    ax.barh([k for k, _ in common], [v for _, v in common], color="#8172b3")
    ax.set_xlabel("rejected candidates")
    fig.tight_layout()
    write_figure(path, fig, dpi=110)


def write_report_files(records_path, stats_path, out: dict[str, str | Path]) -> None:
    """Every report() output of the report_figures rule."""
    import json

    stats = json.loads(Path(stats_path).read_text())
    records = [OutputRecord.from_json(r) for r in read_jsonl(records_path)]
    plot_acceptance(stats, out["acceptance"])
    plot_scores(records, out["scores"])
    plot_reasons(records, out["reasons"])
    write_text(out["stats"], stats_table_html(stats))
    write_text(out["samples"], samples_html(records))


def gpu_hours(stats: dict[str, Any], gpus_per_job: int, gpu_stages: Sequence[str]) -> float:
    """GPU hours of the stages whose jobs hold `gpus_per_job` GPUs each."""
    wall = sum(stats.get("stage_wall_s", {}).get(s, 0.0) for s in gpu_stages)
    return round(wall * gpus_per_job / 3600, 3)


def run_summary(
    stats: dict[str, Any], gpus_per_job: int = 0, gpu_stages: Sequence[str] = ()
) -> str:
    """One screen at the end of a run: records, complete share, time per stage, GPU hours."""
    lines = [
        "contrastgen run summary",
        f"  records        {stats['ingested']} ingested ({stats['unique_items']} unique), "
        f"{stats['rejected']} rejected"
        + (
            f", {stats['turns_without_answer']} turns without answer passed over"
            if stats.get("turns_without_answer")
            else ""
        ),
        f"  complete       {stats['complete']} ({stats['complete_share']:.1%}), partial "
        f"{stats['partial']}, failed {stats['failed']}",
        f"  LLM            {stats.get('generated_items', 0)} items sent, "
        f"{stats.get('cache_hits', 0)} prompts from the cache",
    ]
    for stage, seconds in stats.get("stage_wall_s", {}).items():
        lines.append(f"  {stage:<14} {seconds:8.1f} s")
    hours = gpu_hours(stats, gpus_per_job, gpu_stages)
    lines.append(f"  GPU hours      {hours} ({gpus_per_job} GPUs per job)")
    lines.append("  outputs        results/contrastive.jsonl, results/stats.json")
    return "\n".join(lines)
