"""Per-item cache: generations and similarities survive crashes, reruns and grown corpora.

Layout: `<cache dir>/<namespace>/<writer>.jsonl`, append-only. Every job writes its own
file (its writer name, e.g. `round0-shard3`), so two jobs never write the same file and
need no lock, also on a shared filesystem where O_APPEND is not atomic (NFS). Readers read
every file of the namespace. Each line is one entry with a CRC of its content:

    {"k": key, "v": value, "crc": crc32(key + canonical json of value)}

A write is one `write()` of whole lines followed by `fsync`, once per finished batch, so
a SIGKILL loses at most the batch in flight; the torn last line it may leave is skipped
by the reader (with a warning naming the file) and the next append starts on a new line.
A line that does not parse or whose CRC does not match is ignored the same way, and the
entry is simply computed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from contrastgen.errors import raise_if_disk_full

log = logging.getLogger(__name__)


def digest(obj: Any) -> str:
    """A stable hex key for any JSON-serialisable value."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


# The files that decide what a checkpoint writes, beside its weights: a changed tokenizer
# (e.g. a repaired one) or end-of-turn token gives other answers to the same prompt.
IDENTITY_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
)


def model_identity(model_dir: str | Path) -> dict[str, str]:
    """What identifies a model for the cache: its path and a hash of its config and
    tokenizer files."""
    path = Path(model_dir).resolve()
    h = hashlib.sha256()
    for name in IDENTITY_FILES:
        file = path / name
        h.update(name.encode() + b"\0" + (file.read_bytes() if file.is_file() else b"") + b"\0")
    return {"path": str(path), "files": h.hexdigest()[:16]}


def _crc(key: str, value_json: str) -> int:
    return zlib.crc32((key + "\0" + value_json).encode())


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class ItemCache:
    """One namespace of the cache (e.g. "generate", "similarity") as seen by one writer."""

    def __init__(self, directory: str | Path, namespace: str, writer: str):
        self.dir = Path(directory) / namespace
        self.path = self.dir / f"{writer}.jsonl"

    def lookup(self, keys: Iterable[str]) -> dict[str, Any]:
        """The cached values of `keys` (those present and intact), from every writer's file."""
        wanted = set(keys)
        found: dict[str, Any] = {}
        if not wanted or not self.dir.is_dir():
            return found
        for path in sorted(self.dir.glob("*.jsonl")):
            found.update(self._read(path, wanted))
        return found

    @staticmethod
    def _read(path: Path, wanted: set[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        bad: list[tuple[int, str]] = []
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    entry = json.loads(raw)
                    key, value, crc = entry["k"], entry["v"], entry["crc"]
                except (ValueError, TypeError, KeyError) as exc:
                    bad.append((lineno, f"unreadable ({type(exc).__name__})"))
                    continue
                if _crc(key, _canonical(value)) != crc:
                    bad.append((lineno, "checksum mismatch"))
                    continue
                if key in wanted:
                    found[key] = value
        if bad:
            first, why = bad[0]
            log.warning(
                "cache file %s: ignored %d bad entr%s (first at line %d: %s); "
                "they will be computed again",
                path,
                len(bad),
                "y" if len(bad) == 1 else "ies",
                first,
                why,
            )
        return found

    def put_many(self, entries: Iterable[tuple[str, Any]]) -> int:
        """Append entries durably (one write, then fsync). Returns how many were written."""
        lines = []
        for key, value in entries:
            value_json = _canonical(value)
            lines.append(
                json.dumps({"k": key, "v": json.loads(value_json), "crc": _crc(key, value_json)})
            )
        if not lines:
            return 0
        self.dir.mkdir(parents=True, exist_ok=True)
        blob = ("\n".join(lines) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            # A crash may have left a torn last line: start on a fresh line so that only
            # the torn entry is lost, not the first one written now.
            size = os.fstat(fd).st_size
            if size and _last_byte(self.path, size) != b"\n":
                blob = b"\n" + blob
            while blob:
                blob = blob[os.write(fd, blob) :]
            os.fsync(fd)
        except OSError as exc:
            raise_if_disk_full(exc, self.path)
            raise
        finally:
            os.close(fd)
        return len(lines)


def _last_byte(path: Path, size: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(size - 1)
        return fh.read(1)
