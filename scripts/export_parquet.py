"""Rule export_parquet: results/contrastive.jsonl as a flat parquet table."""

import logging

from contrastgen.rulekit import setup_rule_logging
from contrastgen.stages.export import export_parquet

setup_rule_logging(snakemake)
rows = export_parquet(snakemake.input.records, snakemake.output.table)
logging.info("wrote %d rows to %s", rows, snakemake.output.table)
