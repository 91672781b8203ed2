# What users see: figures and tables for `snakemake --report`, and the exports.


rule report_figures:
    input:
        records=RECORDS,
        stats=STATS,
    output:
        stats=report(
            "results/report/stats.html",
            caption="../report/stats.rst",
            category="1. Run",
            labels={"figure": "statistics"},
        ),
        acceptance=report(
            "results/report/acceptance.png",
            caption="../report/acceptance.rst",
            category="1. Run",
            labels={"figure": "acceptance per round"},
        ),
        scores=report(
            "results/report/scores.png",
            caption="../report/scores.rst",
            category="2. Validation",
            labels={"figure": "score distributions"},
        ),
        reasons=report(
            "results/report/reasons.png",
            caption="../report/reasons.rst",
            category="2. Validation",
            labels={"figure": "rejection reasons"},
        ),
        samples=report(
            "results/report/samples.html",
            caption="../report/samples.rst",
            category="3. Records",
            labels={"figure": "sample records"},
        ),
    log:
        "logs/report_figures.log",
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/report_figures.py"


rule export_parquet:
    input:
        records=RECORDS,
    output:
        table=PARQUET,
    log:
        "logs/export_parquet.log",
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/export_parquet.py"


rule dataset_card:
    input:
        stats=STATS,
        table=PARQUET,
    output:
        card=DATASET_CARD,
    log:
        "logs/dataset_card.log",
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/dataset_card.py"


rule export_avdn:
    input:
        corpus=config["corpus"],
        records=RECORDS,
        rejected=REJECTED,
    output:
        episodes=AVDN_EPISODES,
    log:
        "logs/export_avdn.log",
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/export_avdn.py"
