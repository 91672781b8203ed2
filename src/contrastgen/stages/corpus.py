"""Reading, normalising, rejecting and sharding the instruction corpus.

Two input formats: JSONL with `id` and `instruction` (other fields pass through), and
AVDN processed episodes JSON (a list of episodes, each with `instructions` / dialog turns;
one record per answer, id `EPISODE_ID/TURN_ID`). Duplicate instructions become one
*item* that carries every id, so the LLM sees each text once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contrastgen.errors import UserError
from contrastgen.files import jsonl_lines
from contrastgen.language.text import normalise
from contrastgen.settings import IngestLimits


class CorpusFormatError(UserError, ValueError):
    """The corpus file as a whole cannot be read (not JSONL, not AVDN JSON)."""


@dataclass
class SourceRecord:
    """One record as read from the corpus, before normalisation."""

    id: str | None
    instruction: Any
    source: str  # "file:line" (JSONL) or "file:episode[i].turn[j]" (AVDN)
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # set when the line itself could not be parsed
    # An AVDN turn that carries no answer by design (turn 0 of an episode): not an
    # instruction and not a bad record; ingest counts it apart and the export leaves it be.
    no_answer: bool = False


def item_id(normalised_instruction: str) -> str:
    """Stable id of a unique instruction: the same text always maps to the same item."""
    return hashlib.sha1(normalised_instruction.lower().encode("utf-8")).hexdigest()[:16]


def shard_of(item: str, n_shards: int) -> int:
    """Shard index of an item id; stable, so a grown corpus keeps old items in place."""
    return int(item, 16) % n_shards


def shard_ids(n_shards: int) -> list[str]:
    """The shard names; known from the config alone so a dry run lists every job."""
    return [f"{i:03d}" for i in range(n_shards)]


# Fields of the output record: a corpus field of the same name would be overwritten.
RESERVED_FIELDS = (
    "positives",
    "negatives",
    "status",
    "rounds",
    "source",
    "candidates",
    "schema_version",
)
_BOM = b"\xef\xbb\xbf"


def _avdn_bytes(raw: bytes) -> bool:
    return raw.removeprefix(_BOM).lstrip().startswith(b"[")


def is_avdn(path: str | Path) -> bool:
    """The one format check: an AVDN processed episodes JSON (a JSON list) rather than
    JSONL. A UTF-8 BOM is ignored here as in read_corpus, so the file that ingests as
    AVDN is the one that gets the AVDN export."""
    with open(path, "rb") as fh:
        return _avdn_bytes(fh.read(4096))


def read_corpus(path: str | Path) -> Iterator[SourceRecord]:
    """Yield source records of a JSONL or AVDN JSON corpus.

    A line that is bad JSON, not UTF-8 or not an object is yielded with `error` set (it
    becomes a reject with file:line); a file that is neither format raises
    CorpusFormatError naming the file.
    """
    path = Path(path)
    if path.is_dir():
        raise CorpusFormatError(f"{path}: is a directory, expected a corpus file")
    if not path.is_file():
        raise CorpusFormatError(f"{path}: corpus file does not exist")
    raw = path.read_bytes().removeprefix(_BOM)  # a UTF-8 BOM is not part of the data
    if raw[:2] == b"\x1f\x8b":
        raise CorpusFormatError(f"{path}: gzip-compressed; decompress it first (gunzip)")
    if b"\x00" in raw[:65536]:
        raise CorpusFormatError(f"{path}: binary data, expected JSONL or AVDN episodes JSON")
    if not raw.strip():
        raise CorpusFormatError(f"{path}: empty corpus (no records)")
    if _avdn_bytes(raw):
        yield from _read_avdn(path, raw)
    else:
        yield from _read_jsonl(path, raw)


def _one_object_over_many_lines(raw: bytes) -> bool:
    if not raw.lstrip().startswith(b"{") or raw.strip().count(b"\n") == 0:
        return False
    try:
        return isinstance(json.loads(raw.decode("utf-8")), dict)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False


def _jsonl_record(where: str, obj: dict[str, Any]) -> SourceRecord:
    """One corpus line's record: its id, instruction and passthrough fields, or why the
    line cannot be used."""
    if "instruction" not in obj and isinstance(obj.get("dialogs"), list):
        raise CorpusFormatError(
            f"{where}: an AVDN episode object; an AVDN corpus is one JSON list of "
            "episodes ([{...}, ...]), not JSONL"
        )
    extra = {k: v for k, v in obj.items() if k not in ("id", "instruction")}
    reserved = [k for k in RESERVED_FIELDS if k in extra]
    if reserved:
        error = f"field {reserved[0]!r} is reserved for the output record; rename it"
        return SourceRecord(None, None, where, error=error)
    rid = obj.get("id")
    if rid is not None and not isinstance(rid, str):
        error = f"'id' must be a string, got {type(rid).__name__} ({json.dumps(rid)[:40]})"
        return SourceRecord(None, None, where, error=error)
    return SourceRecord(rid, obj.get("instruction"), where, extra)


def _read_jsonl(path: Path, raw: bytes) -> Iterator[SourceRecord]:
    if _one_object_over_many_lines(raw):
        raise CorpusFormatError(
            f"{path}: one JSON object spread over several lines; expected JSONL (one object "
            "per line with 'id' and 'instruction') or an AVDN episodes JSON list"
        )
    good = 0
    records = []
    for where, obj, error in jsonl_lines(path, raw.split(b"\n")):
        if obj is not None:
            good += 1
            records.append(_jsonl_record(where, obj))
        else:
            records.append(SourceRecord(None, None, where, error=error))
    if good == 0:
        raise CorpusFormatError(
            f"{path}: no line is a JSON object; expected JSONL with 'id' and 'instruction' "
            "or an AVDN processed episodes JSON list"
        )
    yield from records


def _read_avdn(path: Path, raw: bytes) -> Iterator[SourceRecord]:
    try:
        episodes = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusFormatError(
            f"{path}: starts like a JSON list but does not parse: {exc}"
        ) from exc
    except RecursionError as exc:
        raise CorpusFormatError(f"{path}: JSON nested too deeply") from exc
    if not isinstance(episodes, list) or not all(isinstance(e, dict) for e in episodes):
        raise CorpusFormatError(f"{path}: expected a list of AVDN episode objects")
    for ei, episode in enumerate(episodes):
        turns = avdn_turns(episode)
        if turns is None:
            raise CorpusFormatError(
                f"{path}: episode[{ei}] has no 'dialogs' list; not an AVDN processed episodes file"
            )
        episode_id = episode.get("episode_id", episode.get("map_name", str(ei)))
        for ti, turn in enumerate(turns):
            turn_id = turn.get("turn_id", ti)
            where = f"{path}:episode[{ei}].dialogs[{ti}]"
            yield SourceRecord(
                f"{episode_id}/{turn_id}", turn.get("answer"), where, no_answer=not has_answer(turn)
            )


def avdn_turns(episode: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The dialog turns of an AVDN processed episode (`dialogs`: [{turn_id, question, answer}])."""
    turns = episode.get("dialogs")
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        return None
    return turns


def has_answer(turn: dict[str, Any]) -> bool:
    """Whether an AVDN turn carries an answer. Turn 0 of a processed episode has none (no
    question, `answer` missing, null or blank): it is passed over, neither item nor reject."""
    answer = turn.get("answer")
    return not (answer is None or (isinstance(answer, str) and not answer.strip()))


def check_record(rec: SourceRecord, limits: IngestLimits) -> tuple[str | None, str | None]:
    """Return (normalised instruction, None) or (None, reject reason)."""
    if rec.error:
        return None, rec.error
    if rec.id is None or rec.id == "":
        return None, "missing field 'id'"
    if rec.instruction is None:
        return None, "missing field 'instruction'"
    if not isinstance(rec.instruction, str):
        return None, f"'instruction' must be a string, got {type(rec.instruction).__name__}"
    if len(rec.instruction) > limits.max_chars:
        return None, (
            f"too long: {len(rec.instruction)} characters > {limits.max_chars} "
            f"(25 per word of ingest.max_words={limits.max_words})"
        )
    text = normalise(rec.instruction)
    if not text:
        return None, "empty instruction"
    n_words = len(text.split())
    if n_words < limits.min_words:
        return None, f"too short: {n_words} words < ingest.min_words={limits.min_words}"
    if n_words > limits.max_words:
        return None, f"too long: {n_words} words > ingest.max_words={limits.max_words}"
    return text, None
