"""Rule benchmark_strategy: one batching strategy on the benchmark sample."""

from contrastgen.benchmark import run_one
from contrastgen.rulekit import claim_job_gpus, setup_rule_logging

setup_rule_logging(snakemake)
claim_job_gpus(snakemake)  # sets CUDA_VISIBLE_DEVICES before torch uses CUDA
run_one(
    snakemake.input.sample,
    snakemake.output.result,
    snakemake.params.strategy,
    snakemake.params.generator,
    snakemake.params.settings,
    snakemake.threads,
)
