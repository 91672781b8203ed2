"""Corpus-mined hard negatives: the nearest other instructions of the corpus that differ in
a spatial fact.

Real human text, the way the original pipeline's later hard-negative miner took its
negatives from other answers of the dataset: for each item, the other items are ranked by
the validator's embedding similarity, and the nearest ones that could be a negative (not
the same text, at least one spatial fact replaced or added) become candidates with
`source: "corpus"` and the `donor` item they came from. The validate stage then decides
them like any other candidate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from contrastgen.language import spatial
from contrastgen.language.text import same_text

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


def replaces_a_fact(original: spatial.Features, other: spatial.Features) -> bool:
    """Whether `other` replaces or adds a spatial fact of `original` (not only drops one):
    what the validator asks of any negative."""
    return any(not r["code"].endswith("_dropped") for r in spatial.compare(original, other))


def mine_negatives(
    items: Sequence[dict[str, Any]],
    embed: Callable[[list[str]], Any],
    per_item: int,
) -> dict[str, list[dict[str, Any]]]:
    """item id -> up to `per_item` negative candidates taken from other items' texts: the
    nearest ones that are not the same text and replace or add a spatial fact.

    Thresholds are left to the validator on purpose: mining does not depend on them, so
    new thresholds revalidate without mining (or round 0) running again."""
    if per_item <= 0 or len(items) < 2:
        return {item["item"]: [] for item in items}
    texts = [item["instruction"] for item in items]
    features = [spatial.extract(t) for t in texts]
    neighbours, _ = nearest(embed(texts), NEIGHBOURS)
    out: dict[str, list[dict[str, Any]]] = {}
    for i, item in enumerate(items):
        chosen: list[dict[str, Any]] = []
        seen = {texts[i].lower()}
        for j in neighbours[i]:
            if len(chosen) >= per_item:
                break
            if texts[j].lower() in seen or same_text(texts[i], texts[j]):
                continue
            if replaces_a_fact(features[i], features[j]):
                seen.add(texts[j].lower())
                chosen.append(
                    {
                        "text": texts[j],
                        "kind": "negative",
                        "origin": "corpus",
                        "donor": items[j]["item"],
                    }
                )
        out[item["item"]] = chosen
    found = sum(1 for c in out.values() if c)
    log.info("mined negatives for %d of %d items", found, len(items))
    return out
