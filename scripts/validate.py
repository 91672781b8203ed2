"""Rule validate: decide a round's candidates and carry every item's state forward."""

from contrastgen.cache import ItemCache, model_identity
from contrastgen.files import read_jsonl
from contrastgen.rulekit import job_section, setup_rule_logging
from contrastgen.settings import Targets, ValidatorSettings
from contrastgen.stages.validate import validate
from contrastgen.validation.validator import Embedder, resolve_validator_model

setup_rule_logging(snakemake)
settings = ValidatorSettings.from_config(job_section(snakemake, "validator"))
model_dir = resolve_validator_model(settings.model)
validate(
    read_jsonl(snakemake.input.previous),
    snakemake.input.candidates,
    int(snakemake.params.round),
    snakemake.output.state,
    Targets.from_config(snakemake.params.targets),
    settings.thresholds,
    make_embedder=lambda: Embedder(model_dir, settings.batch_size, snakemake.threads),
    cache=ItemCache(snakemake.params.cache_dir, "similarity", snakemake.params.writer),
    validator_identity=model_identity(model_dir),
)
