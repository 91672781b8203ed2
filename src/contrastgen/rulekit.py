"""The plumbing rule scripts need: logging into the rule's log file, the run marker."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

from .io import write_json


def setup_rule_logging(snakemake) -> logging.Logger:
    """Send logging, warnings and stderr (progress bars) to the rule's log file."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    log_path = snakemake.log[0] if len(snakemake.log) else None
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
    logger = logging.getLogger(f"rule.{snakemake.rule}")
    if os.environ.get("SLURM_JOB_ID"):  # which cluster job wrote this log
        logger.info(
            "slurm job %s on %s", os.environ["SLURM_JOB_ID"], os.environ.get("SLURMD_NODENAME")
        )
    return logger


def mark_run_started(path: str | Path) -> None:
    """Written by the Snakefile's onstart (not in dry runs): when this invocation began."""
    write_json(path, {"started": time.time(), "pid": os.getpid()})


def run_started(path: str | Path) -> float | None:
    """The start of the current invocation, or None when no marker was written."""
    path = Path(path)
    return json.loads(path.read_text())["started"] if path.is_file() else None


def claim_job_gpus(snakemake):
    """Claim the job's `gpu` resource (before torch touches CUDA) and log which ids."""
    from .gpus import claim_gpus

    return claim_gpus(
        int(getattr(snakemake.resources, "gpu", 0)), snakemake.params.generator["gpu_lock_dir"]
    )


def print_run_summary(stats_path: str | Path, gpus_per_job: int, run_marker: str | Path) -> None:
    """The Snakefile's onsuccess: one screen about the run, when this run wrote the stats
    (not after e.g. `snakemake benchmark`, which leaves an older stats.json alone)."""
    from .report import run_summary

    path = Path(stats_path)
    started = run_started(run_marker)
    if path.is_file() and (started is None or path.stat().st_mtime >= started):
        print(run_summary(json.loads(path.read_text()), gpus_per_job), file=sys.stderr)
