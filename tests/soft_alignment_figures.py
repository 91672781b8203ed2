"""Would soft alignment lift the validator's recall? (issue 33, item 3; not built)

    .venv/bin/python tests/soft_alignment_figures.py

On the blind and judged sets' tune and dev splits: the positives the rules reject only
for their wording (`content_dropped` / `content_added`), and how many of them a soft
match would accept: every dropped word (or, stricter, also every added word) meets a word
of the other side whose embedding (the validator's MiniLM, each word encoded alone) has a
cosine of at least tau, and is not its WordNet antonym. Faithful ones accepted are the
gain; changed ones accepted are the cost. Held-out splits are not read.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from config_defaults import THRESHOLDS  # noqa: E402
from judged_figures import SETS  # noqa: E402

from contrastgen import go_offline  # noqa: E402
from contrastgen.language import lexicon  # noqa: E402
from contrastgen.validation import judged  # noqa: E402
from contrastgen.validation.validator import Embedder, decide, embedded_validator_path  # noqa: E402

WORDING = {"content_dropped", "content_added"}


def main() -> None:
    go_offline()
    embedder = Embedder(embedded_validator_path(), batch_size=64, threads=2)
    rows = []
    for path in SETS.values():
        pairs = [
            p for p in judged.load(path) if p.split in ("tune", "dev") and p.kind == "positive"
        ]
        sims = embedder.similarities([(p.original, p.candidate) for p in pairs])
        for p, sim in zip(pairs, sims, strict=True):
            d = decide(p.original, p.candidate, p.kind, sim, THRESHOLDS)
            words = {r["code"]: r.get("words", []) for r in d.reasons}
            rows.append((p, d.valid, words))
    vocab = sorted({w for _, _, words in rows for c in WORDING for w in words.get(c, [])})
    vectors = dict(zip(vocab, embedder.embed(vocab), strict=True))

    def match(x: str, y: str, tau: float) -> bool:
        opposite = lexicon.opposites(x) | lexicon.opposites(y)
        return float(vectors[x] @ vectors[y]) >= tau and not ({x, y} & opposite)

    for split in ("tune", "dev"):
        part = [r for r in rows if r[0].split == split]
        for tau in (0.5, 0.6, 0.7, 0.8):
            for both_ways in (False, True):
                took = Counter()
                for p, valid, words in part:
                    took[(p.label, "rules")] += valid
                    if valid or not set(words) <= WORDING:
                        continue
                    dropped, added = (
                        words.get("content_dropped", []),
                        words.get("content_added", []),
                    )
                    ok = all(any(match(x, y, tau) for y in added) for x in dropped)
                    if both_ways:
                        ok = ok and all(any(match(y, x, tau) for x in dropped) for y in added)
                    took[(p.label, "soft")] += ok
                faithful = sum(p.label for p, _, _ in part)
                changed = len(part) - faithful
                print(f"{split:4} tau {tau} {'both ways' if both_ways else 'dropped  '}: "
                      f"faithful accepted {took[(True, 'rules')]} + {took[(True, 'soft')]} "
                      f"of {faithful}, changed accepted {took[(False, 'rules')]} + "
                      f"{took[(False, 'soft')]} of {changed}")  # fmt: skip


if __name__ == "__main__":
    main()
