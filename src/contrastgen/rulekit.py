"""The plumbing rule scripts need: logging into the rule's log file, the run marker."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from contrastgen import go_offline
from contrastgen.errors import DiskFullError, UserError, is_disk_full
from contrastgen.files import write_json
from contrastgen.processes import die_with_workflow


def setup_rule_logging(snakemake) -> logging.Logger:
    """Send logging, warnings and stderr (progress bars) to the rule's log file."""
    return setup_job_logging(snakemake.log[0] if len(snakemake.log) else None, snakemake.rule)


def setup_job_logging(log_path: str | None, rule: str, on_workflow_gone=None) -> logging.Logger:
    """Logging of a job (a `script:` rule's, or a shell rule's Python): into `log_path`,
    user errors as one line, and an end with its workflow (after `on_workflow_gone`)."""
    go_offline()
    if log_path:
        stream = open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        sys.stderr = stream
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.captureWarnings(True)
    logger = logging.getLogger(f"rule.{rule}")
    sys.excepthook = _user_errors_without_traceback
    die_with_workflow(on_gone=on_workflow_gone)
    if os.environ.get("SLURM_JOB_ID"):  # which cluster job wrote this log
        logger.info(
            "slurm job %s on %s", os.environ["SLURM_JOB_ID"], os.environ.get("SLURMD_NODENAME")
        )
    return logger


def _user_errors_without_traceback(exc_type, exc, tb) -> None:
    """An expected error (bad input) ends the rule's log with its one line, no traceback;
    with `--show-failed-logs` that line is the last one the user sees. Bugs keep theirs."""
    if issubclass(exc_type, OSError) and not issubclass(exc_type, UserError) and is_disk_full(exc):
        # a full disk met outside the workflow's own writers (a library's file)
        exc_type, exc = DiskFullError, DiskFullError(exc.filename or "a write of this job")
    if issubclass(exc_type, UserError):
        print(f"error: {exc}", file=sys.stderr, flush=True)
    else:
        sys.__excepthook__(exc_type, exc, tb)


def mark_run_started(path: str | Path) -> None:
    """Written by the Snakefile's onstart (not in dry runs): when this invocation began."""
    write_json(path, {"started": time.time(), "pid": os.getpid()})


def run_started(path: str | Path) -> float | None:
    """The start of the current invocation, or None when no marker was written."""
    path = Path(path)
    return json.loads(path.read_text())["started"] if path.is_file() else None


def claim_job_gpus(snakemake):
    """Claim the job's `gpu` resource (before torch touches CUDA) and log which ids."""
    from contrastgen.compute.gpus import claim_gpus
    from contrastgen.settings import speed_knob

    lock_dir = speed_knob(snakemake.config, "generator.gpu_lock_dir")
    return claim_gpus(int(getattr(snakemake.resources, "gpu", 0)), lock_dir)


def job_section(snakemake, section: str) -> dict:
    """A config section as the job's params carry it, with the speed knobs the rule left
    out of them (settings.SPEED_KNOBS) taken from the run's config."""
    from contrastgen.settings import with_speed_knobs

    return with_speed_knobs(section, getattr(snakemake.params, section), snakemake.config)


def print_run_summary(
    stats_path: str | Path, gpus_per_job: int, run_marker: str | Path, gpu_stages: Sequence[str]
) -> None:
    """The Snakefile's onsuccess: one screen about the run, when this run wrote the stats
    (not after e.g. `snakemake benchmark`, which leaves an older stats.json alone)."""
    from contrastgen.stages.report import run_summary

    path = Path(stats_path)
    started = run_started(run_marker)
    if path.is_file() and (started is None or path.stat().st_mtime >= started):
        print(run_summary(json.loads(path.read_text()), gpus_per_job, gpu_stages), file=sys.stderr)
