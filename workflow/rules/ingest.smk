rule ingest:
    input:
        corpus=config["corpus"],
    output:
        shards=expand("results/ingest/{shard}.jsonl", shard=shard_ids()),
        rejected="results/rejected.jsonl",
        summary="results/ingest/summary.json",
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
