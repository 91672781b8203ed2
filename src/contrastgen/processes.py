"""The lifetime of the processes a job starts: a job ends when its workflow is gone, and
an engine's whole process group goes with it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path


def _proc_stat(pid: int | str) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, from /proc (Linux);
    None for a process that is gone or dead but not yet reaped (a zombie)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[19])


def _is_snakemake(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(Path(a.decode(errors="replace")).name.startswith("snakemake") for a in argv[:3])


def _ancestors() -> list[tuple[int, int]]:
    """(pid, start time) of this job's ancestors up to and including its own snakemake.

    The shells above snakemake are not watched: a run launched from a shell that exits
    (`nohup snakemake ... &`, an ssh logout) goes on. Without a snakemake among the
    ancestors (a function called outside a workflow), the parent alone is watched.
    """
    chain = []
    me = _proc_stat("self")
    pid = me[0] if me else 0
    while pid > 1:
        stat = _proc_stat(pid)
        if stat is None:
            break
        chain.append((pid, stat[1]))
        if _is_snakemake(pid):
            return chain
        pid = stat[0]
    return chain[:1]


def is_alive(pid: int, started: int) -> bool:
    """Whether process `pid` still runs and is the one that started at `started` (clock
    ticks since boot; a reused pid has another start time)."""
    stat = _proc_stat(pid)
    return stat is not None and stat[1] == started


def started_at(pid: int) -> int | None:
    """The start time (clock ticks since boot) of a live process; None when it is gone."""
    stat = _proc_stat(pid)
    return None if stat is None else stat[1]


def job_workflow() -> tuple[int, int]:
    """(pid, start time) of the snakemake that runs this job: the main one on a local
    run, the one inside the cluster job on Slurm. What lives as long as the run does."""
    chain = _ancestors()
    if not chain:  # no /proc: the parent stands in
        return os.getppid(), 0
    return chain[-1]


def group_members(pgid: int) -> list[int]:
    """The live processes of process group `pgid` (zombies, dead but not yet reaped by
    their parent, are not counted: they hold nothing)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def wait_group_gone(pgid: int, timeout_s: float = 10.0) -> bool:
    """Wait (bounded) until the process group `pgid` has no live process left."""
    deadline = time.monotonic() + timeout_s
    while group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def die_with_workflow(
    poll_s: float = 0.5, kill_group: bool = False, on_gone: Callable[[], None] | None = None
) -> None:
    """End this job when the workflow that started it is gone.

    A SIGKILLed snakemake cannot stop its jobs: they would run on (parent pid 1) and
    write their outputs late, while the user already reruns. A daemon thread watches the
    ancestors up to the job's own snakemake (a pid reused by a new process has another
    start time) and kills this process within `poll_s` once one of them dies; the kernel
    then drops its GPU locks.
    `kill_group`: kill this process's whole process group (itself and the children that
    share it), for a process that leads a group of its own. `on_gone`: what to do first
    (a service job, which Snakemake ends by ending its shell). Needs /proc (Linux);
    elsewhere it does nothing.
    """
    chain = _ancestors()
    if not chain:
        return

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            for pid, started in chain:
                if not is_alive(pid, started):
                    logging.getLogger(__name__).error(
                        "the workflow that started this job is gone (pid %d); stopping", pid
                    )
                    if on_gone is not None:
                        on_gone()
                    if kill_group:
                        os.killpg(os.getpgid(0), signal.SIGKILL)
                    os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="die-with-workflow", daemon=True).start()


def kill_group(process: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """SIGKILL the process group `process` leads and wait (bounded) until none of it is
    left: vLLM's engine-core and workers are not our children, so nothing else waits."""
    deadline = time.monotonic() + timeout_s
    try:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        while time.monotonic() < deadline:
            os.killpg(process.pid, 0)  # raises once the group is empty
            time.sleep(0.1)
    except ProcessLookupError:
        pass  # the group is gone
    process.wait()
