"""A real single-node Slurm on localhost for tests: munged, slurmctld and slurmd.

Everything lives under one temp directory (config, state, spool, logs, munge key and
socket); the daemons are started in the foreground (-D) as child processes and stopped
by pid, so nothing outside the directory is touched and nothing outlives the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "srun")


def unavailable_reason() -> str | None:
    """Why a local Slurm cannot run here, or None when it can."""
    if os.name != "posix" or not Path("/proc").is_dir():
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root (slurmd runs jobs as any user; munged needs its key)"
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        return f"missing {', '.join(missing)}: apt-get install slurm-wlm munge (make test does)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_line() -> str:
    """This host's hardware as slurmd sees it, so the node does not drain on a mismatch."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("NodeName="))
    fields = dict(f.split("=", 1) for f in line.split())
    fields["RealMemory"] = str(int(int(fields["RealMemory"]) * 0.9))  # leave some slack
    return " ".join(f"{k}={v}" for k, v in fields.items())


def write_config(root: Path) -> Path:
    host = socket.gethostname().split(".")[0]
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    node = _node_line().replace(f"NodeName={host}", f"NodeName={host} NodeAddr=127.0.0.1", 1)
    conf = f"""\
ClusterName=contrastgen-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=3600
SchedulerType=sched/backfill
SlurmctldTimeout=30
SlurmdTimeout=60
{node} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""
    path = root / "slurm.conf"
    path.write_text(conf)
    return path


def _wait(predicate, timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {p}\n{p.read_text()[-1500:]}" for p in logs if p.exists())
    raise RuntimeError(f"local Slurm: {what} not ready after {timeout:.0f}s\n{tails}")


@contextmanager
def local_slurm(root: Path):
    """Start munged, slurmctld, slurmd under `root`; yield the environment for clients."""
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    conf = write_config(root)
    # The config is not at /etc/slurm/slurm.conf, and the jobstep plugin drops SLURM_*
    # variables (SLURM_CONF too) before its inner `srun`: an `srun` first on PATH that
    # sets SLURM_CONF again stands in for the standard location of a real cluster.
    (root / "bin").mkdir(exist_ok=True)
    wrapper = root / "bin/srun"
    wrapper.write_text(f'#!/bin/sh\nSLURM_CONF={conf} exec {shutil.which("srun")} "$@"\n')
    wrapper.chmod(0o755)
    env = {
        **os.environ,
        "SLURM_CONF": str(conf),
        "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    procs: list[subprocess.Popen] = []
    logs = [root / "log/slurmctld.log", root / "log/slurmd.log", root / "munged.log"]
    try:
        munged = [
            "munged", "--foreground", "--force", f"--socket={root}/munge.socket",
            f"--key-file={key}", f"--pid-file={root}/munged.pid",
            f"--log-file={root}/munged.log", f"--seed-file={root}/munge.seed",
        ]  # fmt: skip
        procs.append(subprocess.Popen(munged, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        _wait(lambda: (root / "munge.socket").exists(), 20, "munged", logs)
        for daemon in ("slurmctld", "slurmd"):
            cmd = [daemon, "-D", "-f", str(conf)]
            procs.append(
                subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            )

        def node_idle() -> bool:
            out = subprocess.run(
                ["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True
            )
            return out.returncode == 0 and out.stdout.strip() in ("idle", "mix")

        _wait(node_idle, 60, "node idle in sinfo", logs)
        yield env
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
