# Corpus-mined hard negatives (negatives.corpus_mined): one job over the whole corpus,
# since an item's nearest other instructions can sit in any shard.


rule mine:
    input:
        shards=expand(INGEST_SHARD, shard=shard_ids()),
    output:
        mined=expand(MINED_SHARD, shard=shard_ids()),
    log:
        "logs/mine.log",
    benchmark:
        "benchmarks/mine.tsv"
    conda:
        "../../envs/cpu.yaml"
    threads: 2
    params:
        per_item=config["negatives"]["corpus_mined_per_item"],
        # not the thresholds: new thresholds revalidate without mining again
        # nor the batch size, a speed knob the job reads from the config
        validator_model=config["validator"]["model"],
    script:
        "../../scripts/mine.py"
