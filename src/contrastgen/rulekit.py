"""The plumbing every rule script needs: logging into the rule's log file."""

from __future__ import annotations

import logging
import os
import sys


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
    return logging.getLogger(f"rule.{snakemake.rule}")
