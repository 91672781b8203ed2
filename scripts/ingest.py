"""Rule ingest: corpus -> unique items in shards, unusable records in rejected.jsonl."""

from contrastgen.corpus import IngestLimits
from contrastgen.pipeline import ingest
from contrastgen.rulekit import setup_rule_logging

setup_rule_logging(snakemake)
settings = snakemake.params.settings
ingest(
    snakemake.input.corpus,
    list(snakemake.output.shards),
    snakemake.output.rejected,
    IngestLimits(settings["min_words"], settings["max_words"]),
    settings["on_bad_record"],
    snakemake.output.summary,
)
