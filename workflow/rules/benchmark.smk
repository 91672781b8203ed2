# `snakemake benchmark`: every engine (batching strategy, or the vllm backend) on the same
# seeded sample and model, in the greedy fixed-length mode and the sampled mode of a real
# job, one job each. Each job takes every core, so no two engines are timed side by side.


rule benchmark_sample:
    input:
        corpus=config["corpus"],
    output:
        sample=BENCHMARK_SAMPLE,
    log:
        "logs/benchmark/sample.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        sample_size=config["benchmark"]["sample_size"],
        seed=config["benchmark"]["seed"],
        ingest=config["ingest"],
    script:
        "../../scripts/benchmark_sample.py"


rule benchmark_strategy:
    input:
        sample=BENCHMARK_SAMPLE,
        model=generator_model(),
    output:
        result=BENCHMARK_RUN,
    log:
        "logs/benchmark/{mode}/{strategy}.log",
    benchmark:
        "benchmarks/benchmark/{mode}/{strategy}.tsv"
    conda:
        "../../envs/generate.yaml"
    # Every core (asked when the job runs, so --report and --lint need no --cores): no
    # two strategies are timed side by side.
    threads: lambda wildcards: workflow.cores
    resources:
        gpu=gpus_per_job(),
    params:
        strategy="{strategy}",
        mode="{mode}",
        generator=generator_settings(),
        generation=without_speed_knobs("generation", config["generation"]),
        settings=config["benchmark"],
    script:
        "../../scripts/benchmark_strategy.py"


rule benchmark_summary:
    input:
        results=benchmark_results(),
        tsvs=benchmark_tsvs(),
    output:
        summary=BENCHMARK_SUMMARY,
        report=BENCHMARK_REPORT,
        plot=report(
            BENCHMARK_PLOT,
            caption="../report/benchmark.rst",
            category="4. Benchmark",
            labels={"figure": "tokens per second"},
        ),
    log:
        "logs/benchmark/summary.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        sample_size=config["benchmark"]["sample_size"],
        max_new_tokens=config["benchmark"]["max_new_tokens"],
        default_strategy=config["generation"]["strategy"],
    script:
        "../../scripts/benchmark_summary.py"


rule benchmark:
    input:
        BENCHMARK_SUMMARY,
        BENCHMARK_REPORT,
        BENCHMARK_PLOT,
