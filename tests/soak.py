"""Soak: the real workflow, faults of several kinds injected at random times, reruns until
it completes; then the run must hold what a fault-free run of the same settings holds.

`make soak` runs the long version (120 answers: the 64 AVDN-shaped ones of the dev set
and 56 of the bundled corpus; 21 faults); `make test` a short
one (tests/workflow/test_soak.py). The generator is a real vLLM OpenAI-compatible server
(the openai backend), so "the server dies" is one of the faults; jobs are its clients.

Faults (one seeded random schedule; a failing seed can be replayed with --seed):
  kill_job          SIGKILL of one random job process (snakemake sees it fail)
  kill_snakemake    SIGKILL of snakemake alone (its jobs must stop on their own)
  launcher_exit     the run is started from a shell that exits while jobs run
  disk_full         results/ (its own tmpfs) fills up; then it is made larger again
  kill_server       SIGKILL of the vLLM server; then it is started again
  truncate_cache    SIGKILL of the whole run, then a cache file cut mid-line (power loss)
  second_snakemake  a second `snakemake` started on the same directory while one runs

After each fault the run is started again the way its error says (`--unlock` after a
stale lock) until it completes. At the end: every id exactly once; every record the
fault-free reference run made is the same, or its item was generated again after a fault
and the model answered differently (accounted for, and counted); no process of the run
left; nothing written outside results/, cache/, logs/ and .snakemake/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from vllm_servers import free_port  # noqa: E402

from contrastgen.backends.vllm_server import start_server  # noqa: E402
from contrastgen.settings import GeneratorSettings  # noqa: E402

KINDS = (
    "kill_job",
    "kill_snakemake",
    "launcher_exit",
    "disk_full",
    "kill_server",
    "truncate_cache",
    "second_snakemake",
)
# Faults after which the same snakemake goes on; every other one ends it.
RUN_GOES_ON = ("launcher_exit", "second_snakemake")
# benchmarks/: the per-job timings Snakemake writes for every rule (a declared output).
ALLOWED_TOP = {"results", "cache", "logs", "benchmarks", ".snakemake"}
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


class SoakFailure(AssertionError):
    """A promise the run broke under a fault."""


@dataclass
class FaultRecord:
    kind: str
    at_s: float  # seconds into the faulted run
    outcome: str  # what the harness saw
    reruns_after: int = 0


@dataclass
class SoakReport:
    seed: int
    items: int
    faults: list[FaultRecord] = field(default_factory=list)
    starts: int = 0  # snakemake invocations of the faulted run, unlocks not counted
    unlocks: int = 0
    reference_s: float = 0.0
    faulted_s: float = 0.0
    identical_records: int = 0
    regenerated_differently: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # must stay empty
    skipped_kinds: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict:
        kinds: dict[str, int] = {}
        for fault in self.faults:
            kinds[fault.kind] = kinds.get(fault.kind, 0) + 1
        return {
            "seed": self.seed,
            "items": self.items,
            "faults": len(self.faults),
            "by_kind": kinds,
            "starts": self.starts,
            "unlocks": self.unlocks,
            "reference_s": round(self.reference_s),
            "faulted_s": round(self.faulted_s),
            "identical_records": self.identical_records,
            "regenerated_differently": len(self.regenerated_differently),
            "lost": self.lost,
            "skipped_kinds": self.skipped_kinds,
        }


# --- what a fault may read -------------------------------------------------------------


@dataclass(frozen=True)
class _Seen:
    inode: int
    size: int
    digest: str  # of the bytes seen: a file rewritten in place differs in them


class LogMark:
    """What the log files held when a fault began. A fault's checks read only what was
    written after it: a job log an earlier fault left ("is gone" from a refine job that
    a killed snakemake ended) is not this fault's outcome (issue 36)."""

    def __init__(self, paths: list[Path]):
        self.seen: dict[Path, _Seen] = {}
        for path in paths:
            try:
                stat, data = path.stat(), path.read_bytes()
            except FileNotFoundError:
                continue
            self.seen[path] = _Seen(stat.st_ino, len(data), hashlib.sha256(data).hexdigest())

    def new_text(self, path: Path) -> str:
        """What `path` gained since the mark: all of it if it is new, was replaced or was
        rewritten from its start, else the bytes past the old end."""
        try:
            inode, data = path.stat().st_ino, path.read_bytes()
        except FileNotFoundError:
            return ""
        seen = self.seen.get(path)
        if (
            seen is not None
            and seen.inode == inode
            and len(data) >= seen.size
            and hashlib.sha256(data[: seen.size]).hexdigest() == seen.digest
        ):
            data = data[seen.size :]
        return data.decode(errors="replace")


# --- processes ---------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields


def alive(pid: int) -> bool:
    return _stat(pid) is not None


def session_pids(sid: int) -> list[int]:
    out = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if fields and int(fields[3]) == sid:
            out.append(int(entry.name))
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def processes_touching(directory: Path) -> list[str]:
    """Live processes (not this one) working in `directory` or naming it."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == me or not alive(pid):
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        line = cmdline(pid)
        if cwd.startswith(str(directory)) or str(directory) in line:
            found.append(f"{pid}: {line[:200]}")
    return found


def kill_session(sid: int) -> None:
    try:
        os.killpg(sid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --- one snakemake invocation --------------------------------------------------------


class Run:
    """One `snakemake` on the soak directory, in its own session; its output in a file
    outside that directory. With `launcher_s`, started from a shell that exits after that
    many seconds while snakemake goes on (`nohup snakemake ... &`)."""

    def __init__(self, soak: Soak, out: Path, launcher_s: float | None = None, *extra: str):
        self.out = out
        argv = [str(SNAKEMAKE), "--cores", "2", "--resources", "gpu=0", *extra]
        argv += ["-s", str(REPO / "Snakefile"), "-d", str(soak.workdir)]
        argv += ["--configfile", str(soak.configfile)]
        env = {**os.environ, "PATH": f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}"}
        if launcher_s is None:
            with out.open("w") as fh:
                self.proc = subprocess.Popen(
                    argv, cwd=soak.workdir, env=env, stdout=fh, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            self.pid = self.sid = self.proc.pid
        else:
            quoted = " ".join(f"'{a}'" for a in argv)
            shell = f"nohup {quoted} > '{out}' 2>&1 & echo $!; sleep {launcher_s:.1f}"
            self.proc = subprocess.Popen(
                ["bash", "-c", shell], cwd=soak.workdir, env=env, stdout=subprocess.PIPE,
                text=True, start_new_session=True,
            )  # fmt: skip
            self.sid = self.proc.pid
            self.pid = int(self.proc.stdout.readline())
            self.launcher = self.proc

    def alive(self) -> bool:
        if self.proc.pid == self.pid:
            return self.proc.poll() is None
        return alive(self.pid)

    def wait(self, timeout_s: float) -> bool:
        """Whether snakemake ended within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while self.alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return True

    def text(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""

    def succeeded(self) -> bool:
        text = self.text()
        done = "steps (100%) done" in text or "Nothing to be done" in text
        return not self.alive() and done and "Exiting because a job execution failed" not in text

    def stale_lock(self) -> bool:
        return "Directory cannot be locked" in self.text()

    def job_pids(self) -> list[int]:
        return [p for p in session_pids(self.sid) if ".snakemake/scripts" in cmdline(p)]


# --- the soak ------------------------------------------------------------------------


class Soak:
    def __init__(self, root: Path, items: int, seed: int, port: int, log=print):
        self.root = root
        self.items = items
        self.seed = seed
        self.rng = random.Random(seed)
        self.port = port
        self.log = log
        self.inputs = root / "inputs"  # the harness's own files, outside the run's dir
        self.inputs.mkdir(parents=True, exist_ok=True)
        self.server = None
        self.mounted: Path | None = None
        self.workdir = root / "reference"
        self.configfile = self.inputs / "config.yaml"
        self.mark = LogMark([])  # set again as each fault begins (inject)

    # setup

    def write_inputs(self) -> list[str]:
        # The AVDN-shaped dev set first, then the bundled corpus for longer soaks.
        lines = (REPO / "resources/corpus/dev.jsonl").read_text().splitlines()
        lines += (REPO / "resources/corpus/sample.jsonl").read_text().splitlines()
        if self.items > len(lines):
            raise SoakFailure(f"--items {self.items}: the corpora hold {len(lines)} answers")
        lines = lines[: self.items]
        corpus = self.inputs / "corpus.jsonl"
        corpus.write_text("\n".join(lines) + "\n")
        config = yaml.safe_load((REPO / "config.yaml").read_text())
        config["corpus"] = str(corpus)
        generator = config["generator"]
        generator.update(backend="openai", model=str(self.model_dir()))
        generator["vllm"].update(python=str(REPO / ".venv-vllm/bin/python"), cpu_kv_cache_gib=1)
        generator["server"].update(base_url=f"http://127.0.0.1:{self.port}/v1", retries=3)
        # Greedy everywhere, one answer per prompt: a run's outputs are a function of its
        # inputs (up to the server's batch numerics), so two runs can be compared.
        config["generation"].update(temperature=0.0, samples_per_prompt=1, max_new_tokens=128)
        config["refine"].update(max_rounds=1, temperature=0.0, samples_per_prompt=1)
        self.configfile.write_text(yaml.safe_dump(config))
        self.generator = GeneratorSettings.from_config(generator)
        return [json.loads(x)["id"] for x in lines]

    @staticmethod
    def model_dir() -> Path:
        path = REPO / "resources/models/SmolLM2-135M-Instruct"
        if not (path / "config.json").is_file():
            raise SoakFailure(f"{path} missing: run `make setup` first")
        return path

    def start_server(self) -> None:
        self.server = start_server(
            self.generator, port=self.port, max_model_len=2048, threads=2,
            log_path=self.inputs / "server.log",
        )  # fmt: skip
        try:
            self.server.wait_ready(300)
        except Exception as exc:
            log = (self.inputs / "server.log").read_text()[-2000:]
            raise SoakFailure(f"the vLLM server did not start: {exc}\n{log}") from exc

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server.process.wait()
            self.server = None

    def mount_results(self) -> str | None:
        """results/ on its own tmpfs, so that it can be made full; None when mounted,
        else why not (then disk_full is skipped and the report says so)."""
        target = self.workdir / "results"
        target.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return "mounting a tmpfs needs root"
        made = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(target)],
            capture_output=True, text=True,
        )  # fmt: skip
        if made.returncode != 0:
            return f"mount refused: {made.stderr.strip()}"
        self.mounted = target
        return None

    def resize_results(self, size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.mounted)], check=True)

    def results_used_bytes(self) -> int:
        stat = os.statvfs(self.mounted)
        return (stat.f_blocks - stat.f_bfree) * stat.f_frsize

    def cleanup(self) -> None:
        self.stop_server()
        if self.mounted is not None:  # keep what the run made, for a reader or a replay
            shutil.copytree(self.mounted, self.root / "faulted-results", dirs_exist_ok=True)
            subprocess.run(["umount", "-l", str(self.mounted)])
            self.mounted = None

    # runs

    def new_run(self, launcher_s: float | None = None, *extra: str) -> Run:
        self.n_runs = getattr(self, "n_runs", 0) + 1
        self.workdir.mkdir(parents=True, exist_ok=True)
        return Run(self, self.inputs / f"run{self.n_runs:03d}.out", launcher_s, *extra)

    def run_to_completion(self, report: SoakReport, tries: int = 8) -> int:
        """Start the workflow until a run completes, the way its errors say; how many
        starts it took."""
        for attempt in range(1, tries + 1):
            run = self.new_run()
            report.starts += 1
            if not run.wait(3600):
                raise SoakFailure(f"a rerun hung: {run.out}")
            if run.succeeded():
                return attempt
            if run.stale_lock():
                self.unlock(report)
            elif self.server is None or self.server.process.poll() is not None:
                self.start_server()
        raise SoakFailure(f"no rerun completed in {tries} tries; last: {run.text()[-3000:]}")

    def stale_lock(self) -> bool:
        locks = self.workdir / ".snakemake" / "locks"
        return locks.is_dir() and any(locks.iterdir())

    def unlock(self, report: SoakReport) -> None:
        report.unlocks += 1
        unlock = self.new_run(None, "--unlock")
        if not unlock.wait(300) or unlock.proc.returncode != 0:
            raise SoakFailure(f"--unlock failed: {unlock.text()[-2000:]}")

    # faults: each returns what it saw, and raises SoakFailure on a broken promise

    def inject(self, kind: str, run: Run) -> str:
        self.mark = LogMark([*self.log_files(), run.out])
        return getattr(self, f"fault_{kind}")(run)

    def ended_cleanly(self, run: Run, timeout_s: float = 900) -> None:
        if not run.wait(timeout_s):
            kill_session(run.sid)
            raise SoakFailure(f"the run hung after the fault ({run.out})")
        for text in (self.log_text(), self.run_text(run)):
            if "Traceback" in text:
                raise SoakFailure("a traceback after the fault:\n" + text[-3000:])

    def log_files(self) -> list[Path]:
        return sorted((self.workdir / "logs").rglob("*.log"))

    def log_text(self) -> str:
        """What the run's job logs gained since the current fault began."""
        return "".join(self.mark.new_text(p) for p in self.log_files())

    def run_text(self, run: Run) -> str:
        """What snakemake printed since the current fault began."""
        return self.mark.new_text(run.out)

    def fault_kill_job(self, run: Run) -> str:
        deadline = time.monotonic() + 60  # snakemake may be between jobs
        while not (jobs := run.job_pids()) and run.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        if not jobs:
            return "no job was running: nothing killed"
        victim = self.rng.choice(jobs)
        name = re.sub(r".*\.snakemake/scripts/", "", cmdline(victim)).split()[0]
        os.kill(victim, signal.SIGKILL)
        self.ended_cleanly(run)
        return f"killed {name}; snakemake ended: {'ok' if run.succeeded() else 'job failed'}"

    def fault_kill_snakemake(self, run: Run) -> str:
        jobs = run.job_pids()
        os.kill(run.pid, signal.SIGKILL)
        run.wait(30)
        deadline = time.monotonic() + 15
        while session_pids(run.sid) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [cmdline(p) for p in session_pids(run.sid) if p != run.sid]
        if left:
            kill_session(run.sid)
            raise SoakFailure(f"jobs outlived their snakemake: {left}")
        return f"snakemake killed with {len(jobs)} job(s) running; they stopped"

    def fault_launcher_exit(self, run: Run) -> str:
        # The run was started from a shell that exits a few seconds in (see run()).
        run.launcher.wait(120)
        jobs = len(run.job_pids())
        time.sleep(3)  # longer than a job's watch interval
        if "is gone" in self.log_text():
            raise SoakFailure("a job stopped when the launching shell exited")
        state = "still running" if run.alive() else ("done" if run.succeeded() else "failed")
        if state == "failed":
            raise SoakFailure(f"the run failed after its shell exited: {run.text()[-2000:]}")
        return f"launching shell exited with {jobs} job(s) running; snakemake {state}"

    def fault_disk_full(self, run: Run) -> str:
        page = 4096
        self.resize_results(str(-(-self.results_used_bytes() // page) * page or page))
        try:
            self.ended_cleanly(run)
        finally:
            self.resize_results("256m")  # the user frees space
        if run.succeeded():
            return "results/ filled up, but the run wrote nothing more: done"
        line = "no space left on device; free space there"
        if line not in self.log_text() and line not in self.run_text(run):
            raise SoakFailure(f"a full disk did not say what to do: {run.text()[-3000:]}")
        return "results/ filled up; the job ended with the one-line disk-full error"

    def fault_kill_server(self, run: Run) -> str:
        # While a client asks it (a generate or refine job), not after the last request.
        deadline = time.monotonic() + 120
        while run.alive() and time.monotonic() < deadline:
            if any(re.search(r"\.(generate|refine)\.py", cmdline(p)) for p in run.job_pids()):
                break
            time.sleep(0.5)
        kill_session(self.server.process.pid)
        self.server.process.wait()
        self.server = None
        try:
            self.ended_cleanly(run)
        finally:
            self.start_server()  # the user starts the server again
        if run.succeeded():
            return "server killed after the last request: the run finished"
        said = self.run_text(run)
        if not re.search(r"^error: generator\.server .* tries; last answer", said, re.M):
            raise SoakFailure(f"clients of a dead server did not say so: {run.text()[-3000:]}")
        return "server killed; its clients failed with one line; server started again"

    def fault_truncate_cache(self, run: Run) -> str:
        kill_session(run.sid)
        run.wait(30)
        files = [p for p in (self.workdir / "cache").rglob("*.jsonl") if p.stat().st_size > 2]
        if not files:
            return "run killed before any cache was written: nothing to truncate"
        victim = self.rng.choice(sorted(files))
        data = victim.read_bytes()
        cut = self.rng.randrange(len(data) // 2, len(data) - 1)
        while data[cut - 1 : cut] == b"\n" and cut < len(data) - 1:
            cut += 1  # mid-line, never on a line boundary
        victim.write_bytes(data[:cut])
        lost = data[cut:].count(b"\n")
        rel = victim.relative_to(self.workdir)
        return f"run killed; {rel} cut at byte {cut}/{len(data)} ({lost} entries torn off)"

    def fault_second_snakemake(self, run: Run) -> str:
        second = self.new_run()
        if not second.wait(300):
            kill_session(second.sid)
            raise SoakFailure("a second snakemake on the same directory hung")
        text = second.text()
        if second.proc.returncode == 0 and run.alive():
            raise SoakFailure(f"a second snakemake ran beside the first: {text[-2000:]}")
        if "Traceback" in text:
            raise SoakFailure(f"the second snakemake printed a traceback: {text[-2000:]}")
        if run.alive() and "Directory cannot be locked" not in text:
            raise SoakFailure(f"the second snakemake did not say why it stopped: {text}")
        return "the second snakemake stopped at the lock; the first went on"

    # the whole soak

    def schedule(self, faults: int, kinds: list[str]) -> list[str]:
        """Every kind once (in random order), then random kinds up to `faults`; a
        launcher_exit only where a new run starts (first, or after a fault that ends
        the run), since it is about how a run is started."""
        drawn = self.rng.sample(kinds, len(kinds))[:faults]
        drawn += [self.rng.choice(kinds) for _ in range(max(0, faults - len(kinds)))]
        plan: list[str] = []
        waiting = 0
        for kind in drawn:
            if kind == "launcher_exit" and plan and plan[-1] in RUN_GOES_ON:
                waiting += 1
                continue
            plan.append(kind)
            if kind not in RUN_GOES_ON and waiting:
                plan.append("launcher_exit")
                waiting -= 1
        for _ in range(waiting):  # none left to follow: end a run for each
            plan += ["kill_job", "launcher_exit"]
        return plan

    def run(self, faults: int, min_delay_s: float, max_delay_s: float) -> SoakReport:
        report = SoakReport(self.seed, self.items)
        ids = self.write_inputs()
        try:
            self.start_server()
            # The fault-free reference, in its own directory, same settings and server.
            started = time.monotonic()
            self.run_to_completion(report, tries=1)
            report.reference_s = time.monotonic() - started
            reference = self.workdir
            report.starts = 0
            self.workdir = self.root / "faulted"
            kinds = list(KINDS)
            why = self.mount_results()
            if why:
                kinds.remove("disk_full")
                report.skipped_kinds["disk_full"] = why
            plan = self.schedule(faults, kinds)
            self.log(f"soak seed {self.seed}: {len(plan)} faults: {' '.join(plan)}")
            started = time.monotonic()
            run = None
            for i, kind in enumerate(plan):
                delay = self.rng.uniform(min_delay_s, max_delay_s)
                # launcher_exit starts a run from a shell that exits a few seconds in,
                # while jobs run; every other fault waits `delay` into a live run.
                launcher_s = self.rng.uniform(4, 8) if kind == "launcher_exit" else None
                run = self.live_run(run, launcher_s, delay, report)
                at = time.monotonic() - started
                outcome = self.inject(kind, run)
                report.faults.append(FaultRecord(kind, round(at, 1), outcome))
                self.log(f"  [{i + 1}/{len(plan)}] {at:6.0f}s {kind}: {outcome}")
            if run is not None and run.alive() and not run.wait(3600):
                raise SoakFailure("the last run hung")
            report.faults[-1].reruns_after = self.run_to_completion(report)
            report.faulted_s = time.monotonic() - started
            self.stop_server()
            self.check(report, ids, reference)
            return report
        finally:
            self.cleanup()

    def live_run(self, run: Run | None, launcher_s, delay: float, report: SoakReport) -> Run:
        """A run that is alive `delay` seconds in (or just started, for launcher_exit):
        the one going on, or a new start after the last fault ended it. A run that
        completes before a fault can hit it is started over from an empty cache."""
        for _ in range(4):
            if run is None or not run.alive():
                if run is not None and run.succeeded():
                    self.log("  the run completed before the next fault: starting over")
                    shutil.rmtree(self.workdir / "cache", ignore_errors=True)
                    self.clear_results()
                if self.stale_lock():  # a killed snakemake's; its rerun would say so
                    self.unlock(report)
                run = self.new_run(launcher_s)
                report.starts += 1
                if launcher_s is not None:
                    return run
            run.wait(delay)
            if run.alive():
                return run
            if not run.succeeded():
                raise SoakFailure(f"a run failed with no fault injected: {run.out}")
        raise SoakFailure("the run kept completing before a fault could hit it")

    def clear_results(self) -> None:
        for path in (self.workdir / "results").iterdir():
            shutil.rmtree(path) if path.is_dir() else path.unlink()

    # the promises

    def check(self, report: SoakReport, ids: list[str], reference: Path) -> None:
        def records(workdir: Path) -> dict[str, dict]:
            rows = [json.loads(x) for x in (workdir / "results/contrastive.jsonl").open()]
            seen = [r["id"] for r in rows]
            if sorted(seen) != sorted(ids):
                raise SoakFailure(f"{workdir}: ids not each exactly once")
            return {r["id"]: r for r in rows}

        ref, got = records(reference), records(self.workdir)

        def generated(record: dict) -> list:
            return [(c["round"], c["text"]) for c in record["candidates"] if c["origin"] == "llm"]

        def decided(record: dict) -> tuple:
            return (record["positives"], record["negatives"], record["status"])

        for item in ids:
            if decided(ref[item]) == decided(got[item]):
                report.identical_records += 1
            elif generated(ref[item]) != generated(got[item]):
                report.regenerated_differently.append(item)
            else:  # same model answers, another decision: something was lost
                report.lost.append(item)
        left = processes_touching(self.workdir)
        if left:
            raise SoakFailure(f"processes of the run left: {left}")
        stray = sorted(p.name for p in self.workdir.iterdir() if p.name not in ALLOWED_TOP)
        if stray:
            raise SoakFailure(f"written outside results/, cache/, logs/, .snakemake/: {stray}")
        if report.lost:
            raise SoakFailure(f"records changed with the same generations: {report.lost}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=120)
    parser.add_argument("--faults", type=int, default=21)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-delay", type=float, default=10.0)
    parser.add_argument("--max-delay", type=float, default=40.0)
    parser.add_argument("--dir", type=Path, help="keep the soak's files here (default: a temp dir)")
    parser.add_argument("--report", type=Path, help="write the report JSON here")
    args = parser.parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="contrastgen-soak-"))
    # A soak stopped with SIGTERM (`kill`, a CI timeout) still stops its vLLM server and
    # its runs: the `finally` of Soak.run runs on SystemExit, not on a bare SIGTERM.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    soak = Soak(root, args.items, args.seed, free_port(), log=lambda s: print(s, flush=True))
    try:
        report = soak.run(args.faults, args.min_delay, args.max_delay)
    except SoakFailure as exc:
        print(f"soak FAILED (seed {args.seed}, files in {root}): {exc}", file=sys.stderr)
        return 1
    summary = report.summary()
    print(json.dumps(summary, indent=2))
    if args.report:
        args.report.write_text(
            json.dumps({**summary, "faults": [asdict(f) for f in report.faults]}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
