"""Rule benchmark_strategy: one engine (strategy or vllm) on the benchmark sample, in one mode."""

from contrastgen.rulekit import claim_job_gpus, job_section, setup_rule_logging
from contrastgen.settings import BenchmarkSettings, GenerationSettings, GeneratorSettings
from contrastgen.stages.benchmark import run_one

setup_rule_logging(snakemake)
claim = claim_job_gpus(snakemake)  # sets CUDA_VISIBLE_DEVICES before torch uses CUDA
run_one(
    snakemake.input.sample,
    snakemake.output.result,
    snakemake.params.strategy,
    snakemake.params.mode,
    GeneratorSettings.from_config(job_section(snakemake, "generator")),
    GenerationSettings.from_config(job_section(snakemake, "generation")),
    BenchmarkSettings.from_config(snakemake.params.settings),
    snakemake.threads,
    len(claim.ids),
)
