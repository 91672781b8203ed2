"""Rule benchmark_sample: a fixed, seeded sample of the corpus."""

from contrastgen.rulekit import setup_rule_logging
from contrastgen.settings import IngestSettings
from contrastgen.stages.benchmark import draw_sample

setup_rule_logging(snakemake)
draw_sample(
    snakemake.input.corpus,
    snakemake.output.sample,
    snakemake.params.sample_size,
    snakemake.params.seed,
    IngestSettings.from_config(snakemake.params.ingest).limits,
)
