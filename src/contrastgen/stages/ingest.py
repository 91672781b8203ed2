"""The ingest stage: read, normalise and check the corpus; write unique items into shards."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from contrastgen.errors import UserError
from contrastgen.files import write_json, write_jsonl
from contrastgen.records import IngestItem, Member, Rejected
from contrastgen.settings import IngestLimits
from contrastgen.stages.corpus import check_record, item_id, read_corpus, shard_of

log = logging.getLogger(__name__)


class BadRecordError(UserError, ValueError):
    """A corpus record is unusable and ingest.on_bad_record is 'error'."""


@dataclass
class _Grouped:
    """The corpus read: usable records grouped into items, and the rest."""

    items: dict[str, IngestItem]
    rejected: list[Rejected]
    ids: int  # distinct usable ids
    records: int  # records with an answer to paraphrase
    without_answer: int  # AVDN turns with no answer (nothing to paraphrase)


def _group_records(corpus: str | Path, limits: IngestLimits, on_bad_record: str) -> _Grouped:
    """Read, normalise and check the corpus; group ids whose normalised text is one."""
    grouped = _Grouped({}, [], 0, 0, 0)
    seen_ids: dict[str, tuple[str, str]] = {}  # id -> (normalised text, source)
    for rec in read_corpus(corpus):
        if rec.no_answer:
            grouped.without_answer += 1
            continue
        grouped.records += 1
        text, reason = check_record(rec, limits)
        if reason is None and rec.id in seen_ids:
            first_text, first_source = seen_ids[rec.id]
            same = "same" if first_text == text else "different"
            reason = f"duplicate id {rec.id!r} ({same} text) first seen at {first_source}"
        if reason is not None:
            if on_bad_record == "error":
                raise BadRecordError(f"{rec.source}: {reason}")
            grouped.rejected.append(Rejected(rec.id, rec.source, reason, rec.instruction))
            continue
        seen_ids[rec.id] = (text, rec.source)
        key = item_id(text)
        # Ids whose texts differ only in case share one generation, but each record
        # keeps its own instruction.
        member = Member(rec.id, rec.source, rec.extra, text)
        if key in grouped.items:
            grouped.items[key].members.append(member)
        else:
            grouped.items[key] = IngestItem(key, text, [member])
    grouped.ids = len(seen_ids)
    return grouped


def ingest(
    corpus: str | Path,
    shard_paths: list[str | Path],
    rejected_path: str | Path,
    limits: IngestLimits,
    on_bad_record: str = "reject",
    summary_path: str | Path | None = None,
) -> dict[str, int]:
    """Read, normalise and check the corpus; write unique items into shards and rejects,
    and the counts (records, ids, items, rejected, turns_without_answer) to `summary_path`."""
    grouped = _group_records(corpus, limits, on_bad_record)
    n = len(shard_paths)
    by_shard: list[list[dict]] = [[] for _ in range(n)]
    for item in grouped.items.values():
        by_shard[shard_of(item.item, n)].append(item.to_json())
    for path, records in zip(shard_paths, by_shard, strict=True):
        write_jsonl(path, records)
    rejected = grouped.rejected
    write_jsonl(rejected_path, [r.to_json() for r in rejected])
    summary = {
        "records": grouped.records,
        "ids": grouped.ids,
        "items": len(grouped.items),
        "rejected": len(rejected),
        "turns_without_answer": grouped.without_answer,
    }
    if rejected:
        reasons = Counter(r.reason.split(":")[0].split(" (")[0] for r in rejected)
        log.warning("rejected %d of %d records: %s", len(rejected), grouped.records, dict(reasons))
    if summary_path is not None:
        write_json(summary_path, summary)
    log.info("ingest: %s", summary)
    return summary
