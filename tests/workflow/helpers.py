"""Run the real workflow (snakemake CLI) in a scratch directory."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def base_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def snakemake(workdir: Path, config: dict, *args: str, check: bool = True, env=None):
    """`snakemake ARGS -s REPO/Snakefile -d WORKDIR --configfile WORKDIR/config.yaml`."""
    workdir.mkdir(parents=True, exist_ok=True)
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, **(env or {})}  # offline: conftest ran go_offline()
    env["PATH"] = bindir + os.pathsep + env["PATH"]
    # --configfile last: like --resources it takes every word after it, targets included.
    cmd = [
        str(Path(bindir) / "snakemake"),
        *args,
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(configfile),
    ]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    proc.output = proc.stdout + proc.stderr  # snakemake 9 prints its errors on stdout
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


def dataset_llm_texts(workdir: Path, ids: list[str]) -> list[str]:
    """Check a finished run's records (each id exactly once, every record valid against
    the record schema); return the texts of its LLM candidates."""
    import jsonschema

    from contrastgen.files import read_jsonl

    out = list(read_jsonl(workdir / "results/contrastive.jsonl"))
    assert sorted(r["id"] for r in out) == sorted(ids)  # each id once
    schema = yaml.safe_load((REPO / "workflow/schemas/record.schema.yaml").read_text())
    llm = []
    for record in out:
        jsonschema.validate(record, schema)
        llm += [c["text"] for c in record["candidates"] if c["origin"] == "llm"]
    return llm
