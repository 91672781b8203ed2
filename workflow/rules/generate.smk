# Round 0 (generate) and rounds 1..R (refine) run the same script: prompt the LLM for
# every item that still misses its targets. One job per shard; the model is loaded once
# per job and only if the shard has work, or, with the shared engine (engine.smk), the
# job is a client of its replica's engine and holds no GPU.


rule generate:
    input:
        work=INGEST_SHARD,
        model=generator_model(),
        mined=mined_negatives,
        engine=engine_service,
    output:
        candidates=GENERATED_SHARD,
    log:
        "logs/generate/{shard}.log",
    benchmark:
        "benchmarks/generate/{shard}.tsv"
    conda:
        generation_env()
    threads: generation_threads()
    resources:
        gpu=gpus_per_job(),
    params:
        round=0,
        cache_dir=config["cache"]["dir"],
        writer="round0-shard{shard}",
        targets=config["targets"],
        rule_edits=rule_edits_per_item(),
        generator=generator_settings(),
        generation=generation_settings(),
        judge=config["validator"]["judge"] == "llm",
    script:
        "../../scripts/generate.py"


rule refine:
    input:
        work=previous_state,
        model=generator_model(),
        engine=engine_service,
    output:
        candidates=REFINED_SHARD,
    log:
        "logs/refine/round{round}/{shard}.log",
    benchmark:
        "benchmarks/refine/round{round}/{shard}.tsv"
    conda:
        generation_env()
    threads: generation_threads()
    resources:
        gpu=gpus_per_job(),
    params:
        round="{round}",
        cache_dir=config["cache"]["dir"],
        writer="round{round}-shard{shard}",
        targets=config["targets"],
        rule_edits={"positives": 0, "negatives": 0},
        generator=generator_settings(),
        generation=refine_generation(),
        judge=config["validator"]["judge"] == "llm",
    script:
        "../../scripts/generate.py"
