"""The validator against the hand-judged set (docs/judged-set.md): the held-out third
meets the issue's bar, positives and negatives each."""

from collections import Counter

from config_defaults import THRESHOLDS

from contrastgen.validation import judged
from contrastgen.validation.validator import decide


def test_the_judged_set_has_its_shape():
    pairs = judged.load()
    assert len(pairs) >= 200
    split = Counter(p.split for p in pairs)
    assert split["heldout"] >= 100 and split["tune"] >= 200
    heldout = [p for p in pairs if p.split == "heldout"]
    assert not {p.original for p in heldout} & {p.original for p in pairs if p.split == "tune"}
    kinds = Counter((p.kind, p.label) for p in heldout)
    assert min(kinds.values()) >= 20, kinds
    assert any(p.origin.startswith("pipeline") for p in pairs)


def test_validator_meets_the_bar_on_the_held_out_pairs(embedder):
    pairs = [p for p in judged.load() if p.split == "heldout"]
    sims = dict(
        zip(
            [(p.original, p.candidate) for p in pairs],
            embedder.similarities([(p.original, p.candidate) for p in pairs]),
            strict=True,
        )
    )
    scores = judged.score(
        pairs,
        lambda p: (
            decide(
                p.original, p.candidate, p.kind, sims[(p.original, p.candidate)], THRESHOLDS
            ).valid
        ),
    )
    for kind, s in scores.items():
        assert s["changed_rejected"] >= 0.95, (kind, s)
        assert s["faithful_accepted"] >= 0.85, (kind, s)
