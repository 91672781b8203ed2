"""Rule report_figures: the plots and tables of `snakemake --report`."""

from contrastgen.rulekit import setup_rule_logging
from contrastgen.stages.report import write_report_files

setup_rule_logging(snakemake)
write_report_files(snakemake.input.records, snakemake.input.stats, dict(snakemake.output.items()))
