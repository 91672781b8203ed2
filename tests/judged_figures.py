"""The validator's figures on the two judged sets (docs/judged-set.md), per split.

    .venv/bin/python tests/judged_figures.py            # tune, dev and heldout3: tuned on
    .venv/bin/python tests/judged_figures.py --heldout  # held-out too: each look spends it
    .venv/bin/python tests/judged_figures.py --heldout2 # the second held-out split (issue 33)
    .venv/bin/python tests/judged_figures.py --heldout4 # the fourth (written 2026-12-07, evening)
    .venv/bin/python tests/judged_figures.py --misses   # the misses of the splits tuned on

Figures: per kind, faithful candidates accepted and changed ones rejected, with counts.
The blind held-out split is the measurement (issue 33): look at it only to report, never
while tuning, and say in benchmarks.md how many looks it has had. The blind dev split was
the first held-out split; once spent, it became a second split to tune on, as heldout3 did
after its first look.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from config_defaults import THRESHOLDS  # noqa: E402

from contrastgen import go_offline  # noqa: E402
from contrastgen.validation import judged  # noqa: E402
from contrastgen.validation.validator import Embedder, decide, embedded_validator_path  # noqa: E402

SETS = {"blind": REPO / "resources/judged/blind_pairs.jsonl", "judged": judged.JUDGED_SET}


def line(name: str, split: str, pairs, verdict) -> str:
    cells = []
    for kind in ("positive", "negative"):
        good = [p for p in pairs if p.kind == kind and p.label]
        bad = [p for p in pairs if p.kind == kind and not p.label]
        took = sum(verdict[id(p)].valid for p in good)
        refused = sum(not verdict[id(p)].valid for p in bad)
        cells.append(
            f"{kind} faithful accepted {took}/{len(good)} ({took / len(good):.1%}), "
            f"changed rejected {refused}/{len(bad)} ({refused / len(bad):.1%})"
        )
    return f"{name:6} {split:7} " + " | ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", action="store_true")
    parser.add_argument("--heldout2", action="store_true")
    parser.add_argument("--heldout4", action="store_true")
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    go_offline()
    embedder = Embedder(embedded_validator_path(), batch_size=32, threads=2)
    for name, path in SETS.items():
        pairs = judged.load(path)
        sims = embedder.similarities([(p.original, p.candidate) for p in pairs])
        verdict = {
            id(p): decide(p.original, p.candidate, p.kind, s, THRESHOLDS)
            for p, s in zip(pairs, sims, strict=True)
        }
        looked = {"heldout": args.heldout, "heldout2": args.heldout2, "heldout4": args.heldout4}
        splits = ("tune", "dev", "heldout3", *(split for split, look in looked.items() if look))
        for split in splits:
            part = [p for p in pairs if p.split == split]
            if not part:
                continue
            print(line(name, split, part, verdict))
            if args.misses and name == "blind" and split in ("tune", "dev", "heldout3"):
                for p in part:
                    v = verdict[id(p)]
                    if v.valid != p.label:
                        said = "ACCEPTED" if v.valid else json.dumps(v.reasons)[:300]
                        print(f"  [{p.kind} {p.label}] {p.note}\n    O: {p.original}\n"
                              f"    C: {p.candidate}\n    -> {said}")  # fmt: skip


if __name__ == "__main__":
    main()
