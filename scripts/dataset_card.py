"""Rule dataset_card: results/README.md, the Hugging Face dataset card of the parquet."""

from contrastgen.rulekit import setup_rule_logging
from contrastgen.stages.export import write_dataset_card

setup_rule_logging(snakemake)
write_dataset_card(snakemake.input.stats, snakemake.output.card)
