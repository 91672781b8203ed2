"""Rule validate: decide a round's candidates and carry every item's state forward."""

from contrastgen.io import read_jsonl
from contrastgen.pipeline import Targets, validate
from contrastgen.rulekit import setup_rule_logging
from contrastgen.validate import Embedder, Thresholds, resolve_validator_model

setup_rule_logging(snakemake)
settings = snakemake.params.validator
validate(
    read_jsonl(snakemake.input.previous),
    snakemake.input.candidates,
    int(snakemake.params.round),
    snakemake.output.state,
    Targets(**snakemake.params.targets),
    Thresholds(**snakemake.params.thresholds),
    make_embedder=lambda: Embedder(
        resolve_validator_model(settings["model"]), settings["batch_size"], snakemake.threads
    ),
)
