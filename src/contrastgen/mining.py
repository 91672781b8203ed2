"""Corpus-mined hard negatives: the nearest other instructions of the corpus that differ in
a spatial fact.

Real human text, the way the original pipeline's later hard-negative miner took its
negatives from other answers of the dataset: for each item, the other items are ranked by
the validator's embedding similarity, and the nearest ones that the validator would accept
as a negative (similar enough, not a copy, at least one spatial fact replaced or added)
become candidates with `source: "corpus"` and the `donor` item they came from. The
validate stage then decides them like any other candidate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from . import spatial
from .validate import Thresholds, decide

log = logging.getLogger(__name__)

# Neighbours looked at per item, nearest first; past these the texts are about other scenes.
NEIGHBOURS = 16
# Rows of the similarity matrix computed at once: bounds memory to ROWS x items floats.
ROWS = 1024


def nearest(embeddings, k: int) -> tuple[list[list[int]], list[list[float]]]:
    """Indices and cosine similarities of each row's k nearest other rows (normalised
    embeddings), nearest first, computed in blocks of ROWS rows."""
    import torch

    n = embeddings.shape[0]
    k = min(k, n - 1)
    if k <= 0:
        return [[] for _ in range(n)], [[] for _ in range(n)]
    indices: list[list[int]] = []
    sims: list[list[float]] = []
    for start in range(0, n, ROWS):
        block = embeddings[start : start + ROWS] @ embeddings.T
        rows = torch.arange(block.shape[0])
        block[rows, rows + start] = -2.0  # never an item's own text
        values, idx = torch.topk(block, k, dim=1)
        indices += idx.tolist()
        sims += values.tolist()
    return indices, sims


def mine_negatives(
    items: Sequence[dict[str, Any]],
    embed: Callable[[list[str]], Any],
    thresholds: Thresholds,
    per_item: int,
) -> dict[str, list[dict[str, Any]]]:
    """item id -> up to `per_item` negative candidates taken from other items' texts."""
    if per_item <= 0 or len(items) < 2:
        return {item["item"]: [] for item in items}
    texts = [item["instruction"] for item in items]
    features = [spatial.extract(t) for t in texts]
    neighbours, similarities = nearest(embed(texts), NEIGHBOURS)
    out: dict[str, list[dict[str, Any]]] = {}
    for i, item in enumerate(items):
        chosen: list[dict[str, Any]] = []
        seen = {texts[i].lower()}
        for j, sim in zip(neighbours[i], similarities[i], strict=True):
            if len(chosen) >= per_item:
                break
            if texts[j].lower() in seen:
                continue
            verdict = decide(texts[i], texts[j], "negative", sim, thresholds, features[i])
            if verdict["valid"]:
                seen.add(texts[j].lower())
                chosen.append(
                    {
                        "text": texts[j],
                        "kind": "negative",
                        "source": "corpus",
                        "donor": items[j]["item"],
                    }
                )
        out[item["item"]] = chosen
    found = sum(1 for c in out.values() if c)
    log.info("mined negatives for %d of %d items", found, len(items))
    return out
