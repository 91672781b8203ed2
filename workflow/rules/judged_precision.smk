# The run's validator (its model and thresholds) on the hand-judged pairs of
# validator.judged: the project's held-out pairs (docs/judged-set.md) and / or the user's
# labels (`contrastgen review`). The figures the stats, the report and the dataset card show.


rule judged_precision:
    input:
        judged=[path for _, path in judged_sets()],
    output:
        figures=JUDGED_FIGURES,
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
        names=[name for name, _ in judged_sets()],
    script:
        "../../scripts/judged_precision.py"
