"""JSONL reading and atomic writing shared by every stage."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from .errors import raise_if_disk_full

log = logging.getLogger(__name__)


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSONL file written by this workflow.

    These files are written atomically by `write_jsonl`, so a bad line is a bug or a
    hand edit: it raises with file and line rather than being skipped.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, write: Callable[[IO], None], binary: bool = False) -> None:
    """The one way files are written: `write(fh)` into a temp file beside `path` (text,
    or bytes with `binary`), fsync, rename over `path`. Readers see the old file or the
    new one, never half of one; the file gets the mode the umask gives (mkstemp alone
    would make it 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        mode = {"mode": "wb"} if binary else {"mode": "w", "encoding": "utf-8"}
        with os.fdopen(fd, **mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise_if_disk_full(exc, path)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write `text` atomically (write_atomic)."""
    write_atomic(path, lambda fh: fh.write(text))


def write_figure(path: str | Path, fig, dpi: int) -> None:
    """Save a matplotlib figure atomically (write_atomic), in the format of its suffix,
    and close it."""
    import matplotlib.pyplot as plt

    fmt = Path(path).suffix.lstrip(".") or "png"
    write_atomic(path, lambda fh: fig.savefig(fh, format=fmt, dpi=dpi), binary=True)
    plt.close(fig)


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records to `path` atomically (write_atomic); return the count."""
    count = 0

    def write(fh: TextIO) -> None:
        nonlocal count
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1

    write_atomic(path, write)
    return count


def write_json(path: str | Path, data: Any, indent: int = 2) -> None:
    """Write one JSON document atomically, pretty-printed for people."""

    def write(fh: TextIO) -> None:
        json.dump(data, fh, indent=indent, ensure_ascii=False)
        fh.write("\n")

    write_atomic(path, write)
