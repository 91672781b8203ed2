"""The `contrastgen` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import spatial
from .io import read_jsonl, write_jsonl
from .validate import DEFAULT_THRESHOLDS, Embedder, Thresholds, decide, resolve_validator_model


def validate_pairs(args: argparse.Namespace) -> int:
    rows = []
    for lineno, row in enumerate(read_jsonl(args.input), start=1):
        missing = {"original", "candidate", "kind"} - set(row)
        if missing:
            raise SystemExit(f"{args.input}:{lineno}: missing field(s) {sorted(missing)}")
        if row["kind"] not in ("positive", "negative"):
            raise SystemExit(f"{args.input}:{lineno}: kind must be positive or negative")
        rows.append(row)
    thresholds = Thresholds(
        args.positive_min_similarity,
        args.negative_min_similarity,
        args.negative_max_similarity,
        args.max_length_ratio,
    )
    embedder = Embedder(resolve_validator_model(args.model), batch_size=args.batch_size)
    sims = embedder.similarities([(r["original"], r["candidate"]) for r in rows])
    out = []
    for row, sim in zip(rows, sims, strict=True):
        decision = decide(row["original"], row["candidate"], row["kind"], sim, thresholds)
        out.append(
            {
                **row,
                "valid": decision["valid"],
                "scores": decision["scores"],
                "reasons": decision["reasons"],
                "features": {
                    "original": spatial.extract(row["original"]).to_json(),
                    "candidate": decision["features"],
                },
            }
        )
    write_jsonl(args.output, out)
    valid = sum(r["valid"] for r in out)
    print(f"{len(out)} pairs, {valid} valid, written to {args.output}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contrastgen", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    vp = sub.add_parser(
        "validate-pairs",
        help="decide (original, candidate, kind) pairs with reasons",
        description=(
            "Each input line is {original, candidate, kind: positive|negative}; each output "
            "line is the same plus valid, scores, reasons and the spatial features of both "
            "texts. The embedding model is loaded once and pairs are encoded in batches."
        ),
    )
    vp.add_argument("input", type=Path, help="JSONL of pairs")
    vp.add_argument("output", type=Path, help="JSONL of decisions (written atomically)")
    vp.add_argument("--model", default="embedded", help="sentence-transformers dir or 'embedded'")
    vp.add_argument("--batch-size", type=int, default=64)
    t = DEFAULT_THRESHOLDS
    vp.add_argument("--positive-min-similarity", type=float, default=t.positive_min_similarity)
    vp.add_argument("--negative-min-similarity", type=float, default=t.negative_min_similarity)
    vp.add_argument("--negative-max-similarity", type=float, default=t.negative_max_similarity)
    vp.add_argument("--max-length-ratio", type=float, default=t.max_length_ratio)
    vp.set_defaults(func=validate_pairs)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
