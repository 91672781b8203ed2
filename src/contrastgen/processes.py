"""The lifetime of the processes a job starts: a job ends when its workflow is gone, and
an engine's whole process group goes with it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
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


def die_with_workflow(poll_s: float = 0.5, kill_group: bool = False) -> None:
    """End this job when the workflow that started it is gone.

    A SIGKILLed snakemake cannot stop its jobs: they would run on (parent pid 1) and
    write their outputs late, while the user already reruns. A daemon thread watches the
    ancestors up to the job's own snakemake (a pid reused by a new process has another
    start time) and kills this process within `poll_s` once one of them dies; the kernel
    then drops its GPU locks.
    `kill_group`: kill this process's whole process group (itself and the children that
    share it), for a process that leads a group of its own. Needs /proc (Linux);
    elsewhere it does nothing.
    """
    chain = _ancestors()
    if not chain:
        return

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            for pid, started in chain:
                stat = _proc_stat(pid)
                if stat is None or stat[1] != started:
                    logging.getLogger(__name__).error(
                        "the workflow that started this job is gone (pid %d); stopping", pid
                    )
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
