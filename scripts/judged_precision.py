"""Rule judged_precision: the run's validator on the hand-judged pairs of validator.judged."""

from contrastgen.files import write_json
from contrastgen.rulekit import setup_rule_logging
from contrastgen.settings import Thresholds
from contrastgen.validation.judged import judged_sets_figures
from contrastgen.validation.validator import Embedder, resolve_validator_model

setup_rule_logging(snakemake)
embedder = Embedder(resolve_validator_model(snakemake.params.validator_model))
figures = judged_sets_figures(
    list(zip(snakemake.params.names, snakemake.input.judged, strict=True)),
    Thresholds.from_config(snakemake.params.thresholds),
    embedder.similarities,
)
write_json(snakemake.output.figures, figures)
