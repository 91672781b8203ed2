"""JSONL reading and atomic writing shared by every stage."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from contrastgen.errors import raise_if_disk_full

log = logging.getLogger(__name__)


def jsonl_lines(
    path: str | Path, lines: Iterable[bytes]
) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """The one JSONL parser: (file:line, object, None) for each line that is a JSON
    object, (file:line, None, why not) for one that is not; blank lines are skipped.
    What a bad line means is the caller's: a corpus rejects it, the workflow's own files
    and `validate-pairs` stop at it."""
    for lineno, raw in enumerate(lines, start=1):
        where = f"{path}:{lineno}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield where, None, f"invalid UTF-8 at byte {exc.start}"
            continue
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield where, None, f"invalid JSON ({exc.msg})"
            continue
        except RecursionError:
            yield where, None, "JSON nested too deeply"
            continue
        if isinstance(obj, dict):
            yield where, obj, None
        else:
            yield where, None, f"expected a JSON object, got {type(obj).__name__}"


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the records of a JSONL file written by this workflow.

    These files are written atomically by `write_jsonl`, so a bad line is a bug or a
    hand edit: it raises with file and line rather than being skipped.
    """
    with Path(path).open("rb") as fh:
        for where, obj, error in jsonl_lines(path, fh):
            if error:
                raise ValueError(f"{where}: {error}")
            yield obj


def read_benchmark_tsv(path: str | Path) -> dict[str, str] | None:
    """The one row of a Snakemake `benchmark:` TSV as {column: value} (s, max_rss, ...);
    None for a file without a row (a job that wrote only the header)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if len(lines) < 2:
        return None
    return dict(zip(lines[0].split("\t"), lines[1].split("\t"), strict=True))


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
