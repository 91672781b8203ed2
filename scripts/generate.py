"""Rules generate (round 0) and refine (rounds 1..R): prompt the LLM for items missing targets."""

from contrastgen.cache import ItemCache
from contrastgen.engine import engine_from_settings, runner_from_settings
from contrastgen.io import read_jsonl
from contrastgen.pipeline import Targets, generate, generation_cache_context
from contrastgen.rulekit import claim_job_gpus, setup_rule_logging

setup_rule_logging(snakemake)
claim_job_gpus(snakemake)  # sets CUDA_VISIBLE_DEVICES before torch uses CUDA
round_ = int(snakemake.params.round)
generate(
    read_jsonl(snakemake.input.work),
    round_,
    snakemake.output.candidates,
    Targets(**snakemake.params.targets),
    make_engine=lambda: engine_from_settings(
        snakemake.params.generator,
        snakemake.threads,
        snakemake.params.generation["prefix_cache"],
        snakemake.params.generation["token_budget"],
    ),
    run=runner_from_settings(snakemake.params.generation, f"round {round_}"),
    rule_negatives=snakemake.params.negatives["rule_based_per_item"]
    if snakemake.params.negatives["rule_based"]
    else 0,
    cache=ItemCache(snakemake.params.cache_dir, "generate", snakemake.params.writer),
    cache_context=generation_cache_context(snakemake.params.generator, snakemake.params.generation),
    max_new_tokens=snakemake.params.generation["max_new_tokens"],
    # round 0 only (rule generate): corpus-mined negatives, when negatives.corpus_mined
    mined={r["item"]: r["candidates"] for r in read_jsonl(snakemake.input.mined)}
    if snakemake.input.get("mined")
    else None,
)
