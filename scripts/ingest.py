"""Rule ingest: corpus -> unique items in shards, unusable records in rejected.jsonl."""

from contrastgen.rulekit import setup_rule_logging
from contrastgen.settings import IngestSettings
from contrastgen.stages.ingest import ingest

setup_rule_logging(snakemake)
settings = IngestSettings.from_config(snakemake.params.settings)
ingest(
    snakemake.input.corpus,
    list(snakemake.output.shards),
    snakemake.output.rejected,
    settings.limits,
    settings.on_bad_record,
    snakemake.output.summary,
)
