"""Rule benchmark_sample: a fixed, seeded sample of the corpus."""

from contrastgen.benchmark import draw_sample
from contrastgen.corpus import IngestLimits
from contrastgen.rulekit import setup_rule_logging

setup_rule_logging(snakemake)
settings, ingest = snakemake.params.settings, snakemake.params.ingest
draw_sample(
    snakemake.input.corpus,
    snakemake.output.sample,
    settings["sample_size"],
    settings["seed"],
    IngestLimits(ingest["min_words"], ingest["max_words"]),
)
