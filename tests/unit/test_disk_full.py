"""A full disk ends a write with one line that says what to do, and loses nothing: on a
real full filesystem (a 64 KiB tmpfs, where this machine lets us mount one) and
/dev/full (the kernel's always-full device)."""

import subprocess
import sys
import textwrap

import pytest

from contrastgen.cache import ItemCache
from contrastgen.errors import DiskFullError
from contrastgen.files import read_jsonl, write_jsonl


def test_a_full_disk_keeps_the_old_file_and_names_the_path(full_disk):
    out = full_disk / "shard.jsonl"
    write_jsonl(out, [{"id": "a", "text": "keep me"}])
    with pytest.raises(DiskFullError, match=r"shard\.jsonl: no space left on device; free"):
        write_jsonl(out, ({"id": str(i), "text": "x" * 1000} for i in range(200)))
    assert list(read_jsonl(out)) == [{"id": "a", "text": "keep me"}]
    assert [p.name for p in full_disk.iterdir()] == ["shard.jsonl"], "no temp file left"


def test_a_full_disk_in_the_cache_loses_only_the_entries_not_written(full_disk):
    cache = ItemCache(full_disk, "generate", "round0-shard000")
    cache.put_many([("k0", {"text": "done before the disk filled"})])
    with pytest.raises(DiskFullError, match="no space left on device"):
        cache.put_many((f"k{i}", {"text": "y" * 1000}) for i in range(1, 200))
    found = cache.lookup([f"k{i}" for i in range(200)])
    assert found["k0"] == {"text": "done before the disk filled"}
    # Every entry read back is whole (a torn one is skipped, never half-read).
    assert all(v["text"] == "y" * 1000 for k, v in found.items() if k != "k0")


def test_a_rule_script_on_a_full_disk_prints_one_line_not_a_traceback(tmp_path):
    """Rule scripts install this hook (rulekit.setup_rule_logging); a full disk met in a
    library's own write (here /dev/full) is the user's to fix, so it gets one line."""
    script = textwrap.dedent(
        """
        import sys
        from contrastgen import rulekit
        sys.excepthook = rulekit._user_errors_without_traceback
        with open("/dev/full", "w") as fh:
            fh.write("x")
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "error: a write of this job: no space left on device; free space there (or move"
        " the run to a larger disk) and rerun: finished work is kept"
    ], run.stderr
