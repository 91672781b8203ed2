rule ingest:
    input:
        corpus=config["corpus"],
    output:
        shards=expand(INGEST_SHARD, shard=shard_ids()),
        rejected=REJECTED,
        summary=INGEST_SUMMARY,
    log:
        "logs/ingest.log",
    benchmark:
        "benchmarks/ingest.tsv"
    conda:
        "../../envs/cpu.yaml"
    params:
        settings=config["ingest"],
    script:
        "../../scripts/ingest.py"
