rule ingest:
    input:
        corpus=config["corpus"],
    output:
        shards=expand("results/ingest/{shard}.jsonl", shard=shard_ids()),
        rejected="results/rejected.jsonl",
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
