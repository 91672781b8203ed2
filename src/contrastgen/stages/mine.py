"""The mine stage: corpus-mined hard negatives for every item (candidates.mining)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contrastgen.files import read_jsonl, write_jsonl
from contrastgen.records import MinedNegatives, Proposal

log = logging.getLogger(__name__)


def mine(
    shard_paths: list[str | Path],
    out_paths: list[str | Path],
    per_item: int,
    make_embedder: Callable[[], Any],
) -> dict[str, int]:
    """Corpus-mined hard negatives for every item of every shard (mining.py); one output
    file per shard, `{item, candidates}` per line, read by round 0's generate job."""
    from contrastgen.candidates.mining import mine_negatives

    shards = [list(read_jsonl(path)) for path in shard_paths]
    items = [item for shard in shards for item in shard]
    embedder = make_embedder() if len(items) > 1 else None
    mined = mine_negatives(items, embedder.embed if embedder else None, per_item)
    for path, shard in zip(out_paths, shards, strict=True):
        found = [
            MinedNegatives(i["item"], [Proposal.from_json(c) for c in mined[i["item"]]])
            for i in shard
        ]
        write_jsonl(path, [m.to_json() for m in found])
    summary = {"items": len(items), "with_negative": sum(1 for c in mined.values() if c)}
    log.info("mine: %s", summary)
    return summary
