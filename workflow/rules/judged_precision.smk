# The run's validator (its model and thresholds) on the held-out hand-judged pairs
# (docs/judged-set.md): the precision the stats, the report and the dataset card show.


rule judged_precision:
    input:
        judged=JUDGED_SET,
    output:
        figures="results/judged_precision.json",
    log:
        "logs/judged_precision.log",
    benchmark:
        "benchmarks/judged_precision.tsv"
    conda:
        "../../envs/cpu.yaml"
    threads: 1
    params:
        validator_model=config["validator"]["model"],
        thresholds=config["validator"]["thresholds"],
    script:
        "../../scripts/judged_precision.py"
