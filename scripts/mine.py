"""Rule mine: every item's nearest other corpus instructions that differ in a
spatial fact, as negative candidates for round 0."""

from contrastgen.rulekit import setup_rule_logging
from contrastgen.settings import speed_knob
from contrastgen.stages.mine import mine
from contrastgen.validation.validator import Embedder, resolve_validator_model

setup_rule_logging(snakemake)
model_dir = resolve_validator_model(snakemake.params.validator_model)
mine(
    list(snakemake.input.shards),
    list(snakemake.output.mined),
    snakemake.params.per_item,
    make_embedder=lambda: Embedder(
        model_dir, speed_knob(snakemake.config, "validator.batch_size"), snakemake.threads
    ),
)
