"""The end-to-end run shared by the workflow tests that read its outputs."""

import json

import pytest

from .helpers import base_config, snakemake

INSTRUCTIONS = [
    "Turn to your 4 clock and keep on that way till the destination.",
    "go foward and turn 7'o clock then cross two road the joint grey building is goal.",
    "It is in your ten o'clock direction, destination looks like two red roofed houses.",
    "Yes you can see it. Go in the 5 o'clock direction from where you are.",
    "Hi drone, fly north and land on the white roof of the big warehouse next to the road.",
    "turn left and go straight untill you see a parking lot with many cars",
]


@pytest.fixture(scope="session")
def e2e_run(tmp_path_factory, generator_dir):
    work = tmp_path_factory.mktemp("e2e")
    lines = [
        {"id": f"r{i}", "instruction": t, "split": "train"} for i, t in enumerate(INSTRUCTIONS)
    ]
    lines.append({"id": "dup", "instruction": INSTRUCTIONS[0].upper()})  # same text, new id
    corpus = work / "corpus.jsonl"
    corpus.write_text(
        "\n".join(json.dumps(x) for x in lines)
        + '\n{"id": "broken", "instr\n'
        + json.dumps({"id": "short", "instruction": "go"})
        + "\n"
    )
    config = base_config()
    config["corpus"] = str(corpus)
    config["generator"]["model"] = str(generator_dir)
    config["ingest"]["shards"] = 2
    config["refine"]["max_rounds"] = 1
    config["generation"]["max_new_tokens"] = 64
    # Two GPU ids declared on this CPU host (the ids are just ids), one per generation
    # job and one thread each, so both shards' jobs run at once, each holding its own id.
    config["generator"].update(gpus_per_job=1, threads=1, gpu_lock_dir=str(work / "gpu-locks"))
    proc = snakemake(
        work, config, "--cores", "2", "--resources", "gpu=2", env={"CONTRASTGEN_GPU_IDS": "0,1"}
    )
    (work / "snakemake.out").write_text(proc.output)
    return work, lines
