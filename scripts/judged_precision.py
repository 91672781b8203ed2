"""Rule judged_precision: the run's validator on the held-out hand-judged pairs."""

from contrastgen.files import write_json
from contrastgen.judged import heldout_figures
from contrastgen.rulekit import setup_rule_logging
from contrastgen.settings import Thresholds
from contrastgen.validator import Embedder, resolve_validator_model

setup_rule_logging(snakemake)
embedder = Embedder(resolve_validator_model(snakemake.params.validator_model))
figures = heldout_figures(
    Thresholds.from_config(snakemake.params.thresholds),
    embedder.similarities,
    snakemake.input.judged,
)
write_json(snakemake.output.figures, figures)
