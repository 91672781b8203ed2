"""Rule validate: decide a round's candidates and carry every item's state forward."""

from contrastgen.cache import ItemCache, model_identity
from contrastgen.files import read_jsonl
from contrastgen.pipeline import Targets, validate
from contrastgen.rulekit import job_section, setup_rule_logging
from contrastgen.validator import Embedder, Thresholds, resolve_validator_model

setup_rule_logging(snakemake)
settings = job_section(snakemake, "validator")
model_dir = resolve_validator_model(settings["model"])
validate(
    read_jsonl(snakemake.input.previous),
    snakemake.input.candidates,
    int(snakemake.params.round),
    snakemake.output.state,
    Targets(**snakemake.params.targets),
    Thresholds(**settings["thresholds"]),
    make_embedder=lambda: Embedder(model_dir, settings["batch_size"], snakemake.threads),
    cache=ItemCache(snakemake.params.cache_dir, "similarity", snakemake.params.writer),
    validator_identity=model_identity(model_dir),
)
