"""How far positives move from their original and from each other, and which to keep.

A contrastive model learns little from a positive that copies its original with one word
swapped; paraphrase research measures "same meaning" and "different wording" together
(ParaScore). The validator decides the first; this module measures the second and, when
more faithful positives pass than an item needs, keeps the ones that differ most.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import mean

from contrastgen.language.text import comparable_words, word_edits


def changed_share(original: str, candidate: str) -> float:
    """The share of the original's words changed: word edits over the original's length,
    at most 1 (a text rewritten end to end)."""
    return min(1.0, word_edits(original, candidate) / max(1, len(comparable_words(original))))


def distance(a: str, b: str) -> float:
    """Word edits over the longer text's length: 0 for the same words, 1 for none shared."""
    longest = max(len(comparable_words(a)), len(comparable_words(b)), 1)
    return word_edits(a, b) / longest


def pick_diverse(
    original: str, kept: Sequence[str], offered: Sequence[str], slots: int
) -> list[str]:
    """Up to `slots` of `offered`, each in turn the one farthest from the original and
    from every positive kept so far (greedy max-min), ties to the earlier offer.

    With room for all, all are kept in their order: only a choice changes the order.
    """
    if slots <= 0:
        return []
    if len(offered) <= slots:
        return list(offered)
    anchors = [original, *kept]
    nearest = [min(distance(text, a) for a in anchors) for text in offered]
    chosen: list[int] = []
    for _ in range(slots):
        best = max(
            (i for i in range(len(offered)) if i not in chosen), key=lambda i: (nearest[i], -i)
        )
        chosen.append(best)
        nearest = [min(n, distance(offered[i], offered[best])) for i, n in enumerate(nearest)]
    return [offered[i] for i in chosen]


def self_bleu(texts: Sequence[str]) -> float | None:
    """Mean BLEU-4 of each text against the others (NLTK, smoothing method 1): near 1 for
    copies of one another, near 0 for texts that share no phrase. None under two texts."""
    if len(texts) < 2:
        return None
    # imported here: the validate and merge stages import this module, some in an
    # environment without NLTK (envs/vllm.yaml), and only merge measures
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    smooth = SmoothingFunction().method1
    words = [comparable_words(t) for t in texts]
    return mean(
        sentence_bleu(words[:i] + words[i + 1 :], w, smoothing_function=smooth)
        for i, w in enumerate(words)
    )
