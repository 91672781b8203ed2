"""SIGKILL a real workflow in the middle of generation, rerun, lose and repeat nothing."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from contrastgen.files import read_jsonl

from .helpers import REPO, base_config, snakemake

pytestmark = pytest.mark.e2e


def cache_keys(path: Path) -> list[str]:
    if not path.exists():
        return []
    keys = []
    for line in path.read_text().splitlines():
        try:
            keys.append(json.loads(line)["k"])
        except ValueError:
            pass  # a torn last line
    return keys


def start_workflow(tmp_path, generator_dir, **generation):
    """The real workflow on 14 bundled lines, one shard, round 0 only, started in its own
    session (so a test can kill snakemake alone or with its whole process group)."""
    lines = (REPO / "resources/corpus/sample.jsonl").read_text().splitlines()[:14]
    (tmp_path / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    config = base_config()
    config["corpus"] = str(tmp_path / "corpus.jsonl")
    config["generator"]["model"] = str(generator_dir)
    config["ingest"]["shards"] = 1
    config["refine"]["max_rounds"] = 0
    config["generation"].update(strategy="true_batch", batch_size=2, max_new_tokens=48)
    config["generation"].update(generation)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    bindir = Path(sys.executable).parent
    cmd = [str(bindir / "snakemake"), "--cores", "2", "--resources", "gpu=0"]
    cmd += ["-s", str(REPO / "Snakefile"), "-d", str(tmp_path)]
    cmd += ["--configfile", str(tmp_path / "config.yaml")]
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return proc, config, lines, tmp_path / "cache/generate/round0-shard000.jsonl"


def wait_for_checkpoints(proc, cache_file, n: int, timeout_s: float = 300) -> None:
    """Until the running workflow's generation job has cached `n` items."""
    deadline = time.monotonic() + timeout_s
    while len(cache_keys(cache_file)) < n:
        assert proc.poll() is None, "the workflow ended before it could be killed"
        assert time.monotonic() < deadline, "generation did not checkpoint in time"
        time.sleep(0.2)


def test_sigkill_during_generation_then_rerun(tmp_path, generator_dir):
    # Own process group, so the kill takes snakemake and its job processes at once.
    proc, config, lines, cache_file = start_workflow(tmp_path, generator_dir, samples_per_prompt=2)
    try:
        wait_for_checkpoints(proc, cache_file, 4)  # two batches of two items done
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = cache_keys(cache_file)
    assert 4 <= len(before) < 14, "killed in the middle of generation"
    assert not (tmp_path / "results/generate/000.jsonl").exists()

    # The user's recovery: unlock the directory the killed run held, then run again.
    snakemake(tmp_path, config, "--unlock", "--cores", "1")
    snakemake(tmp_path, config, "--cores", "2", "--resources", "gpu=0")

    records = list(read_jsonl(tmp_path / "results/contrastive.jsonl"))
    assert sorted(r["id"] for r in records) == sorted(json.loads(x)["id"] for x in lines)
    stats = json.loads((tmp_path / "results/stats.json").read_text())
    assert stats["ingested"] == 14 and stats["rejected"] == 0
    assert stats["cache_hits"] == len(before)
    assert stats["generated_items"] == 14 - len(before)
    after = Counter(cache_keys(cache_file))
    assert set(before) <= set(after) and max(after.values()) == 1, (
        "an item finished before the kill was sent to the LLM again"
    )
    log = (tmp_path / "logs/generate/000.log").read_text()
    assert f"'cache_hits': {len(before)}" in log


def session_processes(sid: int) -> list[str]:
    """Command lines of the live processes of session `sid`."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            out.append(cmdline)
    return out


def test_a_job_dies_with_the_workflow_that_started_it(tmp_path, generator_dir):
    """SIGKILL of snakemake alone (not its process group): its generation job must not run
    on as an orphan and write its output while the user reruns."""
    proc, _, _, cache_file = start_workflow(tmp_path, generator_dir)
    try:
        wait_for_checkpoints(proc, cache_file, 2)  # the generation job is at work
        assert any(".snakemake/scripts" in c for c in session_processes(proc.pid))
        proc.kill()  # snakemake only; its job is left to fend for itself
        proc.wait()
        killed_at = time.monotonic()
        while session_processes(proc.pid) and time.monotonic() - killed_at < 10:
            time.sleep(0.1)
        survivors = session_processes(proc.pid)
        assert survivors == [], f"job processes outlived their workflow: {survivors}"
        time.sleep(2)
        assert not (tmp_path / "results/generate/000.jsonl").exists(), "a late write"
        log = (tmp_path / "logs/generate/000.log").read_text()
        assert "the workflow that started this job is gone" in log
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_run_outlives_the_shell_that_launched_it(tmp_path, generator_dir):
    """`nohup snakemake ... &` from a shell that exits at once (an ssh logout, a wrapper
    script that returns): the jobs watch their own snakemake, not the shell, and the run
    completes."""
    lines = (REPO / "resources/corpus/sample.jsonl").read_text().splitlines()[:4]
    (tmp_path / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    config = base_config()
    config["corpus"] = str(tmp_path / "corpus.jsonl")
    config["generator"]["model"] = str(generator_dir)
    config["ingest"]["shards"] = 1
    config["refine"]["max_rounds"] = 0
    config["generation"].update(max_new_tokens=48)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    bindir = Path(sys.executable).parent
    run = (
        f"nohup {bindir / 'snakemake'} --cores 2 --resources gpu=0 -s {REPO / 'Snakefile'}"
        f" -d {tmp_path} --configfile {tmp_path / 'config.yaml'} > {tmp_path / 'run.out'}"
        " 2>&1 &"
    )
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    launcher = subprocess.run(["bash", "-c", run], cwd=tmp_path, env=env, timeout=30)
    assert launcher.returncode == 0  # the launching shell is gone from here on
    stats = tmp_path / "results/stats.json"
    deadline = time.monotonic() + 600
    while not stats.exists() and time.monotonic() < deadline:
        time.sleep(2)
    out = (tmp_path / "run.out").read_text()
    assert stats.exists(), out[-3000:]
    logs = "".join(p.read_text() for p in (tmp_path / "logs").rglob("*.log"))
    assert "is gone" not in logs
    assert json.loads(stats.read_text())["ingested"] == len(lines)
    while "steps (100%) done" not in (tmp_path / "run.out").read_text():
        assert time.monotonic() < deadline, out[-3000:]
        time.sleep(1)
