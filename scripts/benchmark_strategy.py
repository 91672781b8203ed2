"""Rule benchmark_strategy: one batching strategy on the benchmark sample."""

from contrastgen.benchmark import run_one
from contrastgen.rulekit import setup_rule_logging

setup_rule_logging(snakemake)
run_one(
    snakemake.input.sample,
    snakemake.output.result,
    snakemake.params.strategy,
    snakemake.params.generator,
    snakemake.params.settings,
    snakemake.threads,
)
