"""Rules generate (round 0) and refine (rounds 1..R): prompt the LLM for items missing targets."""

from contrastgen.engine import engine_from_settings, runner_from_settings
from contrastgen.io import read_jsonl
from contrastgen.pipeline import Targets, generate
from contrastgen.rulekit import setup_rule_logging

setup_rule_logging(snakemake)
round_ = int(snakemake.params.round)
generate(
    read_jsonl(snakemake.input.work),
    round_,
    snakemake.output.candidates,
    Targets(**snakemake.params.targets),
    make_engine=lambda: engine_from_settings(
        snakemake.params.generator, snakemake.threads, snakemake.params.generation["prefix_cache"]
    ),
    run=runner_from_settings(snakemake.params.generation, f"round {round_}"),
    rule_negatives=snakemake.params.negatives["rule_based_per_item"]
    if snakemake.params.negatives["rule_based"]
    else 0,
)
