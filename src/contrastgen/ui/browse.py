"""`contrastgen inspect`: records and the reasons behind every decision, in a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contrastgen.files import read_jsonl
from contrastgen.records import record_problem

STATUS_STYLE = {"complete": "green", "partial": "yellow", "failed": "red"}


def select_records(
    path: str | Path,
    status: str | None = None,
    reason: str | None = None,
    record_id: str | None = None,
    n: int = 10,
) -> list[dict[str, Any]]:
    """The first `n` records matching every filter given."""
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file (run the workflow first)")
    out = []
    for n_read, record in enumerate(read_jsonl(path), start=1):
        problem = record_problem(record)
        if problem:
            raise ValueError(
                f"{path}: record {n_read} is not a contrastgen output record ({problem}); "
                "inspect reads results/contrastive.jsonl"
            )
        if status and record["status"] != status:
            continue
        if record_id and record["id"] != record_id:
            continue
        if reason and not any(
            r["code"] == reason for c in record["candidates"] for r in c["reasons"]
        ):
            continue
        out.append(record)
        if len(out) >= n:
            break
    return out


def reason_text(reason: dict[str, Any]) -> str:
    """clock_changed 4->7, color_dropped 'red', off_topic 0.41, ..."""
    code = reason["code"]
    if "from" in reason and "to" in reason:
        return f"{code} {reason['from']}->{reason['to']}"
    if "value" in reason:
        return f"{code} {reason['value']!r}"
    extra = [f"{v}" for k, v in reason.items() if k != "code"]
    return " ".join([code, *extra])


def render_records(records: list[dict[str, Any]], reason: str | None = None, console=None):
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    console = console or Console()
    if not records:
        console.print("[yellow]no records match[/yellow]")
        return console
    for record in records:
        table = Table(show_header=True, header_style="bold", expand=True)
        table.add_column("", width=2)
        table.add_column("kind", width=8)
        table.add_column("rd", width=2)
        table.add_column("candidate", ratio=3)
        table.add_column("why", ratio=2)
        for cand in record["candidates"]:
            mark = "[green]✓[/green]" if cand["valid"] else "[red]✗[/red]"
            codes = [r["code"] for r in cand["reasons"]]
            why = "; ".join(reason_text(r) for r in cand["reasons"])
            sim = cand.get("scores", {}).get("similarity")
            if sim is not None:
                why = f"sim {sim:.2f}" + (f"; {why}" if why else "")
            style = "bold" if reason and reason in codes else None
            table.add_row(mark, cand["kind"], str(cand["round"]), cand["text"], why, style=style)
        if not record["candidates"]:
            table.add_row("", "", "", "[dim]no candidates[/dim]", "")
        color = STATUS_STYLE.get(record["status"], "white")
        title = f"{record['id']}  [{color}]{record['status']}[/{color}]  rounds {record['rounds']}"
        body = Table.grid()
        body.add_row(f"[bold]{record['instruction']}[/bold]")
        body.add_row(table)
        console.print(Panel(body, title=title, title_align="left"))
    return console
