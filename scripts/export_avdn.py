"""Rule export_avdn: the AVDN episodes with a `paraphrases` field on every turn."""

import logging

from contrastgen.rulekit import setup_rule_logging
from contrastgen.stages.export import export_avdn

setup_rule_logging(snakemake)
counts = export_avdn(
    snakemake.input.corpus,
    snakemake.input.records,
    snakemake.input.rejected,
    snakemake.output.episodes,
)
logging.info("export: %s", counts)
