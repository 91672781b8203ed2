"""CPU seconds per process class every 5 s, for finding where a run's time goes (issue 34).

    python3 tests/perf/cpu_sampler.py OUT.jsonl &   # beside a `snakemake` run; kill it after

Each line: the time and, per class (vLLM worker, engine core, API server, the rule
scripts, snakemake), the CPU seconds its processes used since the line before. Read with
tests/perf/engine_windows.py. Linux only (/proc).
"""

from __future__ import annotations

import json
import os
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
SCRIPTS = ("generate", "refine", "validate", "merge", "mine", "engine_keeper", "snakemake")


def classify(cmdline: str, comm: str) -> str | None:
    if "VLLM::Worker" in comm or "VLLM::Worker" in cmdline:
        return "vllm_worker"
    if "EngineCore" in comm or "EngineCore" in cmdline:
        return "vllm_enginecore"
    if "engine_keeper" in cmdline:  # its command line holds the server's: ask first
        return "engine_keeper"
    if "api_server" in cmdline:
        return "vllm_api_server"
    if "multiprocessing" in cmdline and "venv-vllm" in cmdline:
        return "vllm_mp_child"
    return next((name for name in SCRIPTS if name in cmdline), None)


def cpu_seconds() -> dict[str, tuple[str, float]]:
    """pid -> (class, CPU seconds so far) of every process of a known class."""
    seen = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        kind = classify(cmdline, comm)
        if kind:
            seen[pid] = (kind, (int(fields[11]) + int(fields[12])) / HZ)  # utime + stime
    return seen


def main(out_path: str, every_s: float = 5.0) -> None:
    before: dict[str, tuple[str, float]] = {}
    with open(out_path, "a") as out:
        while True:
            now = cpu_seconds()
            used: dict[str, float] = {}
            for pid, (kind, cpu) in now.items():
                # a process new since the last line started within the interval: all its CPU
                used[kind] = used.get(kind, 0.0) + cpu - (before[pid][1] if pid in before else 0)
            before = now
            line = {"t": round(time.time(), 1), **{k: round(v, 2) for k, v in used.items()}}
            out.write(json.dumps(line) + "\n")
            out.flush()
            time.sleep(every_s)


if __name__ == "__main__":
    main(sys.argv[1])
