"""Rule benchmark_summary: speedups, greedy agreement, report and chart."""

from contrastgen.rulekit import setup_rule_logging
from contrastgen.stages.benchmark import summarize

setup_rule_logging(snakemake)
summarize(
    list(snakemake.input.results),
    list(snakemake.input.tsvs),
    snakemake.params.sample_size,
    snakemake.params.max_new_tokens,
    snakemake.params.default_strategy,
    snakemake.output.summary,
    snakemake.output.report,
    snakemake.output.plot,
)
