# One validate job per shard and round: decide the round's candidates, carry state on.


rule validate:
    input:
        previous=previous_state,
        candidates=round_candidates,
    output:
        state=VALIDATED_SHARD,
    log:
        "logs/validate/round{round}/{shard}.log",
    benchmark:
        "benchmarks/validate/round{round}/{shard}.tsv"
    conda:
        "../../envs/cpu.yaml"
    threads: 1
    params:
        round="{round}",
        cache_dir=config["cache"]["dir"],
        writer="round{round}-shard{shard}",
        targets=config["targets"],
        validator=without_speed_knobs("validator", config["validator"]),
    script:
        "../../scripts/validate.py"
