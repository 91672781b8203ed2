"""The keeper of a shared engine: `python -m contrastgen.backends.engine_keeper --owner
PID:START -- SERVER ARGV...`.

It leads a process group of its own (its starter gives it a new session), starts vLLM's
server in that group and ends the whole group, vLLM's engine processes included, when:
- the snakemake that owns the engine is gone (the run ended, or was SIGKILLed: no engine
  may outlive its run, and nothing else would stop it);
- the server exits (a crashed engine must not leave workers holding GPU memory);
- it is sent SIGTERM or SIGINT (the run's end stops it so).
It holds the GPU locks its starter handed down (inherited descriptors), so the GPUs stay
claimed exactly as long as the engine lives. Standard library and `processes` only.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from contrastgen.processes import is_alive


def _end_group(why: str) -> None:
    print(f"engine keeper {os.getpid()}: {why}; stopping the engine", file=sys.stderr, flush=True)
    os.killpg(os.getpgid(0), signal.SIGKILL)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="engine_keeper")
    parser.add_argument("--owner", required=True, help="PID:START of the owning snakemake")
    parser.add_argument("--poll-s", type=float, default=0.5)
    parser.add_argument("server", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    owner_pid, owner_started = (int(x) for x in args.owner.split(":"))
    server_argv = args.server[1:] if args.server[:1] == ["--"] else args.server

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda n, _f: _end_group(f"signal {n}"))
    server = subprocess.Popen(server_argv)  # same process group: ended with the keeper's
    while True:
        code = server.poll()
        if code is not None:
            _end_group(f"the server exited (code {code})")
        if not is_alive(owner_pid, owner_started):
            _end_group(f"the run that owns it (snakemake {owner_pid}) is gone")
        time.sleep(args.poll_s)


if __name__ == "__main__":
    main()
