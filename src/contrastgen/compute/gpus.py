"""Which GPUs a job uses: claimed with file locks, or the ones Slurm assigned.

Snakemake's `--resources gpu=N` counts GPUs but does not say which ones a job gets. A
generation job therefore claims `k` ids itself before torch initialises CUDA: one lock
file per GPU under a host-wide directory, locked with `flock`. The kernel drops a flock
when its process dies, however it dies (SIGKILL, OOM killer), so a dead job's GPUs are
free again at once: stale locks reclaim themselves. A job takes all `k` or none (it
releases a partial set and retries), so two jobs waiting for two GPUs cannot deadlock.

Inside a Slurm job that was given GPUs, Slurm has already set CUDA_VISIBLE_DEVICES to
the job's own GPUs (cgroup-isolated): those are used and no locks are taken.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import logging
import os
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from contrastgen.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_LOCK_DIR = "/tmp/contrastgen-gpu-locks"


class GpuClaimError(UserError, RuntimeError):
    """GPUs could not be claimed as asked."""


def host_gpu_ids() -> list[str]:
    """GPU ids of this host: CONTRASTGEN_GPU_IDS when set (an explicit inventory, e.g. a
    subset of the box, or plain ids on a CPU-only test host), else nvidia-smi's list."""
    declared = os.environ.get("CONTRASTGEN_GPU_IDS")
    if declared is not None:
        return [x.strip() for x in declared.split(",") if x.strip()]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def _nvidia_smi(query: str) -> list[str]:
    """One `nvidia-smi --query-gpu` field per GPU; empty without nvidia-smi or a GPU."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [x.strip() for x in out.splitlines() if x.strip()]


def _numbers(values: list[str]) -> list[float]:
    out = []
    for value in values:
        try:
            out.append(float(value))
        except ValueError:
            continue  # "[N/A]" on old drivers
    return out


def gpu_memory_bytes() -> int | None:
    """Total memory of the smallest GPU on this host (nvidia-smi), or None without one."""
    sizes = [int(x) * 1024**2 for x in _numbers(_nvidia_smi("memory.total"))]
    return min(sizes) if sizes else None


def gpu_compute_capability() -> float | None:
    """The lowest CUDA compute capability of this host's GPUs (nvidia-smi), or None
    without one: below 8.0 (pre-Ampere, e.g. the RTX 2080 Ti's 7.5) there is no bf16."""
    caps = _numbers(_nvidia_smi("compute_cap"))
    return min(caps) if caps else None


@dataclass
class GpuClaim:
    ids: list[str]
    source: str  # "locks", "slurm" or "none"
    _fds: list[int] = field(default_factory=list, repr=False)

    @property
    def fds(self) -> tuple[int, ...]:
        """The lock descriptors: a process that inherits them holds the GPUs too."""
        return tuple(self._fds)

    def release(self) -> None:
        if self._fds:
            for fd in self._fds:
                os.close(fd)  # closing the descriptor drops the flock
            self._fds = []
            log.info(
                "gpu release: ids=%s pid=%d at=%.3f", ",".join(self.ids), os.getpid(), time.time()
            )

    def __enter__(self) -> GpuClaim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _cuda_already_initialised() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def safe_lock_dir(lock_dir: Path) -> Path:
    """The host-wide lock directory, created sticky and world-writable like /tmp (jobs of
    every user on the box share the GPUs) when missing. Refused when another user could
    swap its lock files: a symlink, not owned by this user or root, or writable by others
    without the sticky bit."""
    key = "generator.gpu_lock_dir"
    if not lock_dir.exists() and not lock_dir.is_symlink():
        lock_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock_dir.mkdir()
            os.chmod(lock_dir, 0o1777)
        except FileExistsError:
            pass  # another job made it first; checked below like any existing one
    info = os.lstat(lock_dir)
    if stat.S_ISLNK(info.st_mode):
        raise GpuClaimError(f"{key}: {lock_dir} is a symlink; refusing to put locks there")
    if not stat.S_ISDIR(info.st_mode):
        raise GpuClaimError(f"{key}: {lock_dir} is not a directory")
    if info.st_uid not in (os.getuid(), 0):
        raise GpuClaimError(
            f"{key}: {lock_dir} belongs to uid {info.st_uid}, who could replace its lock "
            "files; use a directory owned by you or by root"
        )
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        raise GpuClaimError(
            f"{key}: {lock_dir} is writable by others without the sticky bit "
            f"(mode {stat.S_IMODE(info.st_mode):o}); chmod +t or 755 it"
        )
    return lock_dir


def _try_lock(path: Path) -> int | None:
    try:
        # Never follow a link someone planted in the shared directory, never truncate on
        # open: the file is emptied only once it is known to be a plain lock file.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise GpuClaimError(f"{path} is a symlink; refusing to open it as a lock") from exc
        raise GpuClaimError(f"cannot open GPU lock {path}: {exc.strerror}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        raise GpuClaimError(f"{path} is not a plain lock file (a link or special file)")
    if info.st_uid == os.getuid():
        os.fchmod(fd, 0o666)  # other users' jobs lock the same GPUs
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {time.time():.3f}\n".encode())
    return fd


def _holders(lock_dir: Path, ids: list[str]) -> str:
    out = []
    for gpu in ids:
        try:
            pid = (lock_dir / f"gpu{gpu}.lock").read_text().split()[0]
        except (OSError, IndexError):
            pid = "?"
        out.append(f"{gpu} (pid {pid})")
    return ", ".join(out)


def _slurm_claim(k: int) -> GpuClaim | None:
    """The GPUs Slurm gave this job (CUDA_VISIBLE_DEVICES inside a Slurm job), or None
    outside one."""
    slurm_ids = os.environ.get("CUDA_VISIBLE_DEVICES") if os.environ.get("SLURM_JOB_ID") else None
    if not slurm_ids:
        return None
    ids = [x for x in slurm_ids.split(",") if x]
    if len(ids) < k:
        raise GpuClaimError(
            f"Slurm gave this job GPUs {slurm_ids} but it needs {k} (resources: gpu={k})"
        )
    log.info("gpu claim: ids=%s source=slurm pid=%d at=%.3f", slurm_ids, os.getpid(), time.time())
    return GpuClaim(ids, "slurm")


def _lock_k(
    ids: list[str], k: int, lock_dir: Path, timeout_s: float, poll_s: float
) -> list[tuple[str, int]]:
    """Lock `k` of the GPUs `ids` (all or none per try), waiting up to `timeout_s`: the
    ids and their lock file descriptors."""
    deadline = time.monotonic() + timeout_s
    while True:
        got: list[tuple[str, int]] = []
        for gpu in ids:
            fd = _try_lock(lock_dir / f"gpu{gpu}.lock")
            if fd is not None:
                got.append((gpu, fd))
                if len(got) == k:
                    return got
        for _, fd in got:  # all or nothing: never sit on a partial set
            os.close(fd)
        if time.monotonic() > deadline:
            raise GpuClaimError(
                f"no {k} free GPUs after {timeout_s:.0f}s; held: {_holders(lock_dir, ids)}"
            )
        time.sleep(poll_s)


def claim_gpus(
    k: int,
    lock_dir: str | Path | None = None,
    timeout_s: float = 3600,
    poll_s: float = 0.5,
) -> GpuClaim:
    """Claim `k` GPUs for this process and point CUDA_VISIBLE_DEVICES at them.

    Must run before torch initialises CUDA. Waits up to `timeout_s` for free GPUs (another
    workflow on the same box may hold some). Released at exit, or by the kernel on a crash.
    """
    if k <= 0:
        return GpuClaim([], "none")
    if _cuda_already_initialised():
        raise GpuClaimError("claim GPUs before torch initialises CUDA (CUDA_VISIBLE_DEVICES)")
    slurm = _slurm_claim(k)
    if slurm is not None:
        return slurm
    ids = host_gpu_ids()
    if len(ids) < k:
        raise GpuClaimError(
            f"this job needs {k} GPUs but the host has {len(ids)} ({','.join(ids) or 'none'})"
        )
    lock_dir = safe_lock_dir(
        Path(lock_dir or os.environ.get("CONTRASTGEN_GPU_LOCK_DIR", DEFAULT_LOCK_DIR))
    )
    got = _lock_k(ids, k, lock_dir, timeout_s, poll_s)
    claim = GpuClaim([gpu for gpu, _ in got], "locks", [fd for _, fd in got])
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(claim.ids)
    atexit.register(claim.release)
    log.info(
        "gpu claim: ids=%s source=locks pid=%d at=%.3f",
        ",".join(claim.ids),
        os.getpid(),
        time.time(),
    )
    return claim
