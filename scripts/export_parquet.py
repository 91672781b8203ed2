"""Rule export_parquet: results/contrastive.jsonl as a flat parquet table."""

import logging

from contrastgen.export import export_parquet
from contrastgen.rulekit import setup_rule_logging

setup_rule_logging(snakemake)
rows = export_parquet(snakemake.input.records, snakemake.output.table)
logging.info("wrote %d rows to %s", rows, snakemake.output.table)
