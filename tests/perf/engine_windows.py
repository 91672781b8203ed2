"""A shared-engine run's time, read from vLLM's 10-s log lines and the CPU sampler.

    python3 tests/perf/engine_windows.py RUN_DIR [CPU.jsonl]

RUN_DIR: the workflow directory of a finished run (its logs/engine/*/*.log); CPU.jsonl:
what tests/perf/cpu_sampler.py wrote beside it. Prints the log windows that had requests
running or waiting and how many of them produced no token (a scheduler step longer than
the window), the prompt and generated tokens, and the CPU seconds per process class.
"""

from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

WINDOW_S = 10  # vLLM's log interval
LINE = re.compile(
    r"Avg prompt throughput: ([\d.]+) tokens/s, Avg generation throughput: ([\d.]+) tokens/s, "
    r"Running: (\d+) reqs, Waiting: (\d+) reqs"
)


def main(run: Path, cpu_path: Path | None) -> None:
    windows = [
        tuple(float(g) for g in m.groups())
        for log in sorted(run.glob("logs/engine/*/*.log"))
        for m in map(LINE.search, log.read_text(errors="replace").splitlines())
        if m
    ]
    busy = [w for w in windows if w[2] + w[3] > 0]
    silent = [w for w in busy if w[0] == 0 and w[1] == 0]
    print(f"log windows with requests running or waiting: {len(busy)}; silent: {len(silent)}")
    prompt, generated = (sum(w[i] for w in windows) * WINDOW_S for i in (0, 1))
    print(f"prompt tokens ~{prompt:.0f}, generated ~{generated:.0f} (window rates x {WINDOW_S} s)")
    lines = [json.loads(line) for line in cpu_path.read_text().splitlines()] if cpu_path else []
    if len(lines) > 1:
        total: collections.Counter[str] = collections.Counter()
        for line in lines[1:]:
            total.update({k: v for k, v in line.items() if k != "t"})
        span = lines[-1]["t"] - lines[0]["t"]
        per_class = {k: round(v) for k, v in total.most_common()}
        print(f"{span:.0f} s sampled; CPU seconds per class:", per_class)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
