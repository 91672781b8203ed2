# The shared engine (generator.vllm.shared_engine, the vllm backend's default): one vLLM
# OpenAI server per replica of the plan for the whole run. Each round has one engine job
# per replica whose service() output the round's generate/refine jobs of that replica's
# shards consume: Snakemake runs them as one group, the engine job holding the replica's
# GPUs and the clients none. The job reuses the engine an earlier round of this run
# started (backends/shared_engine.py), so a local run starts one per replica.
#
# A shell command, not a script: Snakemake ends a service job once its clients are done
# by signalling its shell command's process, which it cannot do for a script. The
# command touches the service file first (Snakemake waits only --latency-wait for it).
# The engine's settings reach it through the environment, not params: a service job
# runs exactly when its clients do, and a changed speed knob must not rerun them.
engine_environment()


rule engine:
    input:
        model=generator_model(),
    output:
        service=service(ENGINE_SERVICE),
    log:
        "logs/engine/round{round}/replica{replica}.log",
    conda:
        generation_env()
    threads: generation_schedule().engine_threads
    resources:
        gpu=generation_schedule().engine_gpus,
    params:
        python=PYTHON,
        script=str(Path(workflow.basedir) / "scripts" / "engine.py"),
        registry=f"{ENGINE_REGISTRY_DIR}/replica{{replica}}.json",
        last_round=lambda wildcards: (
            "--last-round" if int(wildcards.round) == max_rounds() else ""
        ),
    shell:
        "touch {output.service:q}; exec {params.python:q} {params.script:q}"
        " --service {output.service:q} --registry {params.registry:q}"
        " --replica {wildcards.replica} {params.last_round} --threads {threads}"
        " --gpus {resources.gpu} --log {log:q}"
