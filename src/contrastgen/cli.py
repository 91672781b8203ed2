"""The `contrastgen` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

from contrastgen import go_offline
from contrastgen.compute.devices import DTYPES
from contrastgen.compute.planner import DEFAULT_BATCH_TOKENS, QUANTIZATIONS, VLLM_QUANTIZATIONS
from contrastgen.errors import UserError
from contrastgen.files import jsonl_lines, write_jsonl
from contrastgen.language import spatial
from contrastgen.records import STATUSES
from contrastgen.settings import Settings, read_config_yaml
from contrastgen.validation.validator import Embedder, decide, resolve_validator_model

# validator.thresholds a `validate-pairs` flag overrides
THRESHOLD_FLAGS = (
    "positive_min_similarity",
    "negative_min_similarity",
    "negative_max_similarity",
    "max_length_ratio",
)


def config_settings(path: Path) -> Settings:
    """The settings of the config.yaml at `path`."""
    if not path.is_file():
        raise UserError(f"{path}: no such file; name the run's config.yaml with --config")
    return Settings.from_config(read_config_yaml(path), path.parent)


def read_pairs(path: Path) -> list[dict]:
    """Every {original, candidate, kind} row of `path`, checked before any model loads."""
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected a JSONL file of pairs")
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    rows = []
    for where, row, error in jsonl_lines(path, path.read_bytes().split(b"\n")):
        if error:
            raise UserError(f"{where}: {error}")
        missing = {"original", "candidate", "kind"} - set(row)
        if missing:
            raise UserError(f"{where}: missing field(s) {sorted(missing)}")
        for key in ("original", "candidate"):
            if not isinstance(row[key], str) or not row[key].strip():
                raise UserError(f"{where}: {key!r} must be a non-empty string")
        if row["kind"] not in ("positive", "negative"):
            raise UserError(f"{where}: kind must be positive or negative")
        rows.append(row)
    return rows


def validate_pairs(args: argparse.Namespace) -> int:
    rows = read_pairs(args.input)
    thresholds = config_settings(args.config).validator.thresholds
    given = {k: getattr(args, k) for k in THRESHOLD_FLAGS if getattr(args, k) is not None}
    thresholds = replace(thresholds, **given)
    embedder = Embedder(resolve_validator_model(args.model), batch_size=args.batch_size)
    sims = embedder.similarities([(r["original"], r["candidate"]) for r in rows])
    out = []
    for row, sim in zip(rows, sims, strict=True):
        decision = decide(row["original"], row["candidate"], row["kind"], sim, thresholds)
        out.append(
            {
                **row,
                "valid": decision.valid,
                "scores": decision.scores,
                "reasons": decision.reasons,
                "features": {
                    "original": spatial.extract(row["original"]).to_json(),
                    "candidate": decision.features,
                },
            }
        )
    write_jsonl(args.output, out)
    valid = sum(r["valid"] for r in out)
    print(f"{len(out)} pairs, {valid} valid, written to {args.output}", file=sys.stderr)
    return 0


def plan_command(args: argparse.Namespace) -> int:
    from contrastgen.compute.planner import PlanError, place

    try:
        result = place(
            args.backend,
            args.model,
            args.gpus,
            args.gpu_memory,
            batch_tokens=args.batch_tokens or DEFAULT_BATCH_TOKENS,
            quantization=args.quantization,
            dtype=args.dtype,
            # no --batch-tokens: the planner chooses the budget with the layout
            choose_budget=args.batch_tokens is None,
            gpu_memory_utilization=args.gpu_memory_utilization,
            compute_capability=args.compute_capability,
        )
    except (PlanError, ValueError, OSError) as exc:
        print(f"contrastgen plan: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(result.table())
    return 0


def inspect_command(args: argparse.Namespace) -> int:
    from contrastgen.ui.browse import render_records, select_records

    try:
        records = select_records(args.records, args.status, args.reason, args.id, args.n)
    except (OSError, ValueError) as exc:
        print(f"contrastgen inspect: {exc}", file=sys.stderr)
        return 2
    render_records(records, args.reason)
    return 0


def review_command(args: argparse.Namespace) -> int:
    """The review page over a finished run, until Ctrl-C; labels are saved as given."""
    from contrastgen.ui.review_app import serve
    from contrastgen.validation.review import ReviewSession

    labels = args.labels or args.run / "labels.jsonl"
    session = ReviewSession(args.run, labels, args.size, args.seed, args.by)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill`: the lock goes too
    try:
        serve(session, args.host, args.port, lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        pass
    finally:
        session.close()
    return 0


def serve_command(args: argparse.Namespace) -> int:
    """vLLM's OpenAI-compatible server for the config's generator, until Ctrl-C."""
    from urllib.parse import urlsplit

    from contrastgen.backends.vllm_server import start_server

    generator = config_settings(args.config).generator
    url = urlsplit(generator.server.base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 8000
    server = start_server(generator, host, port, args.max_model_len, args.threads)
    # `kill` or a job scheduler's SIGTERM stops the server too (it has its own session)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        ready = server.wait_ready(args.timeout)
        print(
            f"contrastgen serve: {generator.model} as {generator.server.model!r} at "
            f"{server.base_url} (ready in {ready:.0f}s); Ctrl-C stops it",
            file=sys.stderr,
        )
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
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
    vp.add_argument("--batch-size", type=positive_int, default=64)
    vp.add_argument(
        "--config",
        type=Path,
        default=Path("config.yaml"),
        help="its validator.thresholds are the defaults of the flags below",
    )
    for name in THRESHOLD_FLAGS:
        vp.add_argument(f"--{name.replace('_', '-')}", type=float, dest=name)
    vp.set_defaults(func=validate_pairs)

    pp = sub.add_parser(
        "plan",
        help="GPUs per model replica, replicas, token budget (reads only config.json)",
        description=(
            "Builds the model on the meta device from its config.json, sizes every layer for "
            "the dtype or quantization, adds the KV cache of a batch and a per-GPU reserve. "
            "transformers: packs the layers onto as few GPUs as possible and chooses the "
            "per-replica token budget with the replicas (unless --batch-tokens). vllm: "
            "compares tensor-parallel x pipeline-parallel layouts."
        ),
    )
    pp.add_argument("--model", required=True, help="model directory with config.json")
    pp.add_argument("--gpus", type=positive_int, required=True, help="GPUs on the box")
    pp.add_argument("--gpu-memory", required=True, help="memory per GPU, e.g. 11GiB, 80GB")
    pp.add_argument("--backend", choices=["transformers", "vllm"], default="transformers")
    pp.add_argument(
        "--quantization",
        choices=sorted({*QUANTIZATIONS, *VLLM_QUANTIZATIONS}),
        default="none",
        help="8bit/4bit: bitsandbytes (transformers); awq/gptq: 4-bit checkpoints (vllm; "
        "none reads the checkpoint's own quantization_config)",
    )
    pp.add_argument("--dtype", choices=["auto", *DTYPES], default="auto")
    pp.add_argument(
        "--compute-capability",
        type=float,
        help="the GPUs' CUDA compute capability, e.g. 7.5 for an RTX 2080 Ti: below 8.0 "
        "there is no bf16, so auto plans float16",
    )
    pp.add_argument(
        "--batch-tokens",
        type=positive_int,
        help="KV-cache tokens of a replica's batch, kept as given (default: the planner "
        f"chooses up to {DEFAULT_BATCH_TOKENS} for transformers; {DEFAULT_BATCH_TOKENS} "
        "for vllm)",
    )
    pp.add_argument("--gpu-memory-utilization", type=float, default=0.9, help="vllm only")
    pp.add_argument("--json", action="store_true", help="print the plan as JSON")
    pp.set_defaults(func=plan_command)

    ip = sub.add_parser(
        "inspect",
        help="read records and why candidates were rejected, in the terminal",
        description="A readable view of results/contrastive.jsonl, filtered.",
    )
    ip.add_argument("records", type=Path, help="results/contrastive.jsonl")
    ip.add_argument("--status", choices=STATUSES)
    ip.add_argument("--reason", help="only records with a candidate rejected for this code")
    ip.add_argument("--id", help="only this record id")
    ip.add_argument(
        "-n", type=positive_int, default=10, help="at most this many records (default 10)"
    )
    ip.set_defaults(func=inspect_command)

    add_review_parser(sub)
    add_serve_parser(sub)
    return parser


def add_review_parser(sub) -> None:
    rp = sub.add_parser(
        "review",
        help="label a sample of a run's decisions in a local page: the validator, measured",
        description=(
            "Serves a page (127.0.0.1 unless --host) over a finished run: a seeded sample of "
            "its decided candidates, each beside its original with the words that differ "
            "highlighted and the validator's reasons, one label per pair by mouse or "
            "keyboard. Labels are saved as given (judged set format); name the file in "
            "validator.judged for a run's figures (README, 'Judge your own data')."
        ),
    )
    rp.add_argument("run", type=Path, nargs="?", default=Path("."), help="the run's directory")
    rp.add_argument("--labels", type=Path, help="labels file (default RUN/labels.jsonl)")
    rp.add_argument("--size", type=positive_int, default=100, help="pairs drawn (default 100)")
    rp.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    rp.add_argument("--by", default=os.environ.get("USER") or "unnamed", help="who labels")
    rp.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    rp.add_argument("--port", type=port_number, default=8765, help="0: any free port (8765)")
    rp.set_defaults(func=review_command)


def add_serve_parser(sub) -> None:
    sp = sub.add_parser(
        "serve",
        help="vLLM's OpenAI-compatible server for generator.model (backend: openai)",
        description=(
            "Starts vLLM's server from the vLLM environment (generator.vllm.python) with the "
            "config's model, dtype and KV cache settings, named generator.server.model, at "
            "the host and port of generator.server.base_url."
        ),
    )
    sp.add_argument("--config", type=Path, default=Path("config.yaml"))
    sp.add_argument("--max-model-len", type=positive_int, default=4096)
    sp.add_argument("--threads", type=positive_int, help="CPU threads (default: every core)")
    sp.add_argument("--timeout", type=float, default=600, help="seconds to wait for it")
    sp.set_defaults(func=serve_command)


def port_number(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, not {value}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    go_offline()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:  # bad input: one line, no traceback
        print(f"contrastgen {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
