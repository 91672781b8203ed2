"""The shared engine's lifetime rules on real processes: the keeper ends its whole process
group when the run that owns it is gone, when its server exits or on SIGTERM; the run's
end stops only its own engines; clients are told why there is no engine. vLLM itself is
started by tests/workflow/test_vllm_workflow.py; here the keeper's "server" is a plain
Python process with a child of its own, which is all the keeper sees of one."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from config_defaults import SETTINGS

from contrastgen.backends.shared_engine import (
    EngineError,
    EngineRecord,
    _fingerprint,
    connect,
    context_length,
    read_record,
    stop_engines,
)
from contrastgen.backends.vllm_server import serve_command
from contrastgen.files import write_json
from contrastgen.processes import group_members, job_workflow, started_at, wait_group_gone

SRC = str(Path(__file__).resolve().parents[3] / "src")
# A stand-in server: starts a child in its own process group, then waits (or exits).
SERVER = "import subprocess, sys, time; subprocess.Popen(['sleep', '300']); time.sleep({})"


def group_alive(pgid: int) -> bool:
    return bool(group_members(pgid))


def start_keeper(owner: subprocess.Popen, server_seconds: float = 300) -> subprocess.Popen:
    owner_started = started_at(owner.pid)
    keeper = subprocess.Popen(
        [sys.executable, "-m", "contrastgen.backends.engine_keeper"]
        + ["--owner", f"{owner.pid}:{owner_started}", "--poll-s", "0.1", "--"]
        + [sys.executable, "-c", SERVER.format(server_seconds)],
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": SRC},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while len(group_members(keeper.pid)) < 3:  # keeper, server, the server's child
        assert time.monotonic() < deadline, "the keeper did not start its server"
        time.sleep(0.1)
    return keeper


@pytest.fixture
def owner():
    """A stand-in for the snakemake that owns an engine."""
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.kill()
    process.wait()


def test_the_keeper_ends_the_engine_when_its_run_is_gone(owner):
    keeper = start_keeper(owner)
    owner.kill()  # the run SIGKILLed
    owner.wait()
    assert wait_group_gone(keeper.pid), "the engine outlived its run"
    assert "the run that owns it (snakemake" in keeper.stderr.read()


def test_the_keeper_ends_the_group_when_the_server_exits_or_on_sigterm(owner):
    keeper = start_keeper(owner, server_seconds=1)  # the server dies, its child lives on
    assert wait_group_gone(keeper.pid), "a dead server's processes were left running"
    assert "the server exited (code 0)" in keeper.stderr.read()
    keeper = start_keeper(owner)
    os.kill(keeper.pid, signal.SIGTERM)
    assert wait_group_gone(keeper.pid)


def record_for(keeper: subprocess.Popen, owner: tuple[int, int], **changes) -> EngineRecord:
    fields = dict(
        replica=0,
        host=socket.gethostname(),
        base_url="http://127.0.0.1:9/v1",
        model="smollm2",
        keeper_pid=keeper.pid,
        keeper_started=started_at(keeper.pid),
        owner_pid=owner[0],
        owner_started=owner[1],
        fingerprint="f",
        log="engine.log",
    )
    return EngineRecord(**{**fields, **changes})


def test_the_runs_end_stops_only_its_own_engines(tmp_path, owner):
    """stop_engines (onsuccess/onerror) stops the engines this process owns: not another
    run's, not one on another host (a cluster's shared registry)."""
    ours = start_keeper(owner)
    theirs = start_keeper(owner)
    elsewhere = start_keeper(owner)
    me = (os.getpid(), started_at(os.getpid()))
    write_json(tmp_path / "replica0.json", record_for(ours, me).to_json())
    write_json(tmp_path / "replica1.json", record_for(theirs, (owner.pid, 1)).to_json())
    write_json(tmp_path / "replica2.json", record_for(elsewhere, me, host="node7").to_json())
    try:
        assert stop_engines(tmp_path) == 1
        assert not group_alive(ours.pid)
        assert group_alive(theirs.pid) and group_alive(elsewhere.pid)
        assert not read_record(tmp_path / "replica2.json").alive  # not ours to judge
    finally:
        for keeper in (theirs, elsewhere):
            os.killpg(keeper.pid, signal.SIGKILL)


def test_a_client_is_told_why_there_is_no_engine(tmp_path, owner):
    service = tmp_path / "replica0.json"
    service.write_text(json.dumps({"error": "generator.vllm.python: no such interpreter"}))
    with pytest.raises(EngineError, match="engine job .* failed: generator.vllm.python"):
        connect(service, timeout_s=5)
    # this run's engine, gone before it answered
    keeper = start_keeper(owner)
    write_json(service, record_for(keeper, job_workflow()).to_json())
    os.killpg(keeper.pid, signal.SIGKILL)
    wait_group_gone(keeper.pid)
    with pytest.raises(EngineError, match="engine of replica 0 .* is gone; its output is in"):
        connect(service, timeout_s=5)
    # a service file of an earlier run (another owner) is not this run's engine
    write_json(service, record_for(keeper, (1, 1)).to_json())
    with pytest.raises(EngineError, match="no engine answered"):
        connect(service, timeout_s=1)


def test_the_engines_context_and_fingerprint(generator_dir):
    generator = SETTINGS.generator.but(model=str(generator_dir), device="cpu")
    generation = SETTINGS.generation
    assert context_length(generator, generation) == 8192  # SmolLM2's positions
    assert context_length(generator, generation.but(token_budget=2048)) == 2048
    one, env = serve_command(generator, "127.0.0.1", 8001, 8192, threads=2, seed=1)
    other, _ = serve_command(generator, "127.0.0.1", 8002, 8192, threads=2, seed=1)
    assert _fingerprint(one, env) == _fingerprint(other, env)  # the port is not the engine
    fewer, env1 = serve_command(generator, "127.0.0.1", 8001, 8192, threads=1, seed=1)
    assert _fingerprint(fewer, env1) != _fingerprint(one, env)
    assert "--seed" in one and "--pipeline-parallel-size" not in one  # a CPU engine


def test_a_registry_file_that_holds_no_engine_is_skipped(tmp_path, owner):
    """A torn or foreign file in the registry (an empty object, an engine job's error, a
    record cut short) is no engine: the run's end stops the ones that are and goes on."""
    ours = start_keeper(owner)
    me = (os.getpid(), started_at(os.getpid()))
    write_json(tmp_path / "replica0.json", record_for(ours, me).to_json())
    for i, junk in enumerate([{}, {"error": "no GPU"}, [], {"replica": 3}], start=1):
        write_json(tmp_path / f"replica{i}.json", junk)
        assert read_record(tmp_path / f"replica{i}.json") is None
    assert stop_engines(tmp_path) == 1
    assert not group_alive(ours.pid)
