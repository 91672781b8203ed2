"""GPU claiming with real concurrent processes (on a CPU host the ids are just ids)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from contrastgen.compute.gpus import GpuClaimError, claim_gpus

HOLDER = """
import json, os, sys, time
from contrastgen.compute.gpus import claim_gpus
claim = claim_gpus(int(sys.argv[1]), sys.argv[2], timeout_s=60, poll_s=0.05)
start = time.time()
print("claimed", flush=True)
time.sleep(float(sys.argv[3]))
end = time.time()
print(json.dumps({"ids": claim.ids, "cuda": os.environ["CUDA_VISIBLE_DEVICES"],
                  "start": start, "end": end}), flush=True)
"""


def holder(k, lock_dir, hold_s, ids="0,1,2,3"):
    env = {**os.environ, "CONTRASTGEN_GPU_IDS": ids}
    env.pop("SLURM_JOB_ID", None)
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(k), str(lock_dir), str(hold_s)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_concurrent_processes_never_share_a_gpu(tmp_path):
    procs = [holder(2, tmp_path, 0.6) for _ in range(5)]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        results.append(json.loads(out.splitlines()[-1]))
    for r in results:
        assert len(r["ids"]) == 2 and r["cuda"] == ",".join(r["ids"])
    overlapping = 0
    for i, a in enumerate(results):
        for b in results[i + 1 :]:
            if a["start"] < b["end"] and b["start"] < a["end"]:
                overlapping += 1
                assert not set(a["ids"]) & set(b["ids"]), (a, b)
    assert overlapping >= 1, "two holders ran at the same time on disjoint GPUs"


def test_gpus_of_a_killed_process_are_free_at_once(tmp_path):
    victim = holder(2, tmp_path, 60, ids="0,1")
    assert victim.stdout.readline().strip() == "claimed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    started = time.monotonic()
    survivor = holder(2, tmp_path, 0, ids="0,1")
    out, _ = survivor.communicate(timeout=30)
    assert json.loads(out.splitlines()[-1])["ids"] == ["0", "1"]
    assert time.monotonic() - started < 10


def test_inside_slurm_the_assigned_gpus_are_used_without_locks(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    claim = claim_gpus(2, tmp_path)
    assert (claim.ids, claim.source) == (["3", "5"], "slurm")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(GpuClaimError, match="needs 3"):
        claim_gpus(3, tmp_path)


def test_asking_for_more_gpus_than_the_host_has_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("CONTRASTGEN_GPU_IDS", "0")
    with pytest.raises(GpuClaimError, match="needs 2 GPUs but the host has 1"):
        claim_gpus(2, tmp_path)
    assert claim_gpus(0, tmp_path).ids == []


def claim_here(lock_dir, monkeypatch):
    monkeypatch.setenv("CONTRASTGEN_GPU_IDS", "0")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return claim_gpus(1, lock_dir, timeout_s=1)


def test_a_planted_symlink_is_refused_and_its_target_left_alone(tmp_path, monkeypatch):
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o755)
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    (locks / "gpu0.lock").symlink_to(victim)
    with pytest.raises(GpuClaimError, match="symlink"):
        claim_here(locks, monkeypatch)
    assert victim.read_text() == "keep me"
    (locks / "gpu0.lock").unlink()
    os.link(victim, locks / "gpu0.lock")  # a hard link: the same file under another name
    with pytest.raises(GpuClaimError, match="not a plain lock file"):
        claim_here(locks, monkeypatch)
    assert victim.read_text() == "keep me"


def test_unsafe_lock_directories_are_refused_naming_the_key(tmp_path, monkeypatch):
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)  # world-writable, no sticky bit: anyone may swap the locks
    with pytest.raises(GpuClaimError, match=r"generator.gpu_lock_dir: .* sticky"):
        claim_here(open_dir, monkeypatch)
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(GpuClaimError, match="is a symlink"):
        claim_here(tmp_path / "link", monkeypatch)
    fresh = tmp_path / "fresh"  # made by the claim: sticky and shared, like /tmp
    claim = claim_here(fresh, monkeypatch)
    assert os.stat(fresh).st_mode & 0o7777 == 0o1777
    assert (fresh / "gpu0.lock").read_text().split()[0] == str(os.getpid())
    claim.release()
