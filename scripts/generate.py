"""Rules generate (round 0) and refine (rounds 1..R): prompt the LLM for items missing targets."""

from contrastgen.backends import cache_identity, make_backend
from contrastgen.cache import ItemCache
from contrastgen.files import read_jsonl
from contrastgen.records import mined_by_item
from contrastgen.rulekit import claim_job_gpus, job_section, setup_rule_logging
from contrastgen.settings import GenerationSettings, GeneratorSettings, Targets
from contrastgen.stages.generate import generate

setup_rule_logging(snakemake)
claim = claim_job_gpus(snakemake)  # sets CUDA_VISIBLE_DEVICES before torch uses CUDA
generator = GeneratorSettings.from_config(job_section(snakemake, "generator"))
generation = GenerationSettings.from_config(job_section(snakemake, "generation"))
generate(
    read_jsonl(snakemake.input.work),
    int(snakemake.params.round),
    snakemake.output.candidates,
    Targets.from_config(snakemake.params.targets),
    make_backend=lambda: make_backend(
        generator, generation, snakemake.threads, len(claim.ids), snakemake.input.get("engine")
    ),
    params=generation.params(),
    rule_positives=snakemake.params.rule_edits["positives"],
    rule_negatives=snakemake.params.rule_edits["negatives"],
    cache=ItemCache(snakemake.params.cache_dir, "generate", snakemake.params.writer),
    cache_context=cache_identity(generator, generation),
    # round 0 only (rule generate): corpus-mined negatives, when negatives.corpus_mined
    mined=mined_by_item(read_jsonl(snakemake.input.mined))
    if snakemake.input.get("mined")
    else None,
    judge=snakemake.params.judge,
)
