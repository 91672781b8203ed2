"""GPU check, for a machine with one NVIDIA GPU (sized for < 8 min on an H100/H200).

The transformers backend on a Mistral-7B-shaped model built from its config.json with
random weights (nothing to download), bf16: sequential, true_batch and bucketed side by
side at two batch sizes, on the real prompts of the bundled corpus with fixed-length
greedy decoding, tokens/s and peak GPU memory next to what the planner predicts for the
same batch. Run: `make gpu-check` (writes results/gpu_check.json and prints a table).
Not part of `make test`: CI has no GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from contrastgen import go_offline

REPO = Path(__file__).resolve().parents[2]
TOKENIZER_DIR = REPO / "resources/models/SmolLM2-135M-Instruct"


def build_checkpoint(config_path: Path, out_dir: Path, device: str) -> Path:
    """A random-weight checkpoint of `config_path`'s shape, saved with the embedded model's
    tokenizer (its 49,152-token vocabulary replaces the config's: the embeddings and LM
    head grow by that many rows, and the planner sees the same config)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER_DIR)
    config = AutoConfig.from_pretrained(_as_dir(config_path, out_dir))
    config.vocab_size = len(tokenizer)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    del model
    return out_dir


def _as_dir(config_path: Path, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(config_path.read_text())
    return out_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "results" / "gpu_check.json")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--batch-sizes", default="16,64")
    parser.add_argument(
        "--config",
        type=Path,
        default=REPO / "tests/data/model_configs/mistral-7b.json",
        help="model shape (config.json)",
    )
    parser.add_argument(
        "--cpu", action="store_true", help="smoke-run on the CPU (use a small --config)"
    )
    args = parser.parse_args()
    go_offline()
    import torch

    device = "cpu" if args.cpu else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu-check: no CUDA GPU on this machine; nothing measured", file=sys.stderr)
        return 2
    from contrastgen.backends.transformers_backend import BatchLimits, Engine, run_strategy
    from contrastgen.candidates import prompts
    from contrastgen.compute.planner import plan
    from contrastgen.generation import GenParams, render_chat
    from contrastgen.settings import IngestLimits
    from contrastgen.stages.corpus import check_record, read_corpus

    tmp = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    started = time.perf_counter()
    model_dir = build_checkpoint(args.config, tmp / "model", device)
    build_s = time.perf_counter() - started
    engine = Engine(model_dir, device=device, dtype="bfloat16")  # a real job's engine
    tokenizer = engine.tokenizer
    limits = IngestLimits(3, 80)
    texts = []
    for rec in read_corpus(REPO / "resources/corpus/sample.jsonl"):
        text, reason = check_record(rec, limits)
        if reason is None:
            texts.append(text)
        if len(texts) == args.prompts:
            break
    rendered = [render_chat(tokenizer, prompts.build_messages(t), "POSITIVE:") for t in texts]
    params = GenParams(
        max_new_tokens=args.new_tokens, do_sample=False, min_new_tokens=args.new_tokens
    )
    rows = []
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "CPU (smoke run)"
    memory = torch.cuda.get_device_properties(0).total_memory if device == "cuda" else 80 * 2**30
    for batch_size in [int(x) for x in args.batch_sizes.split(",")]:
        longest = max(engine.prompt_lengths(rendered)) + args.new_tokens
        budget = batch_size * longest
        predicted = plan(model_dir, 1, memory, "none", "bfloat16", batch_tokens=budget)
        for strategy in ("sequential", "true_batch", "bucketed"):
            if strategy == "sequential" and batch_size != int(args.batch_sizes.split(",")[0]):
                continue  # one batch size is enough for the baseline
            run_strategy(
                strategy, engine, rendered[:batch_size], params, BatchLimits(batch_size, budget)
            )
            if device == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            out, metrics = run_strategy(
                strategy, engine, rendered, params, BatchLimits(batch_size, budget)
            )
            if device == "cuda":
                torch.cuda.synchronize()
            rows.append(
                {
                    "strategy": strategy,
                    "batch_size": batch_size,
                    "tokens_per_s": round(metrics.generated_tokens / metrics.generate_s, 1),
                    "generate_s": round(metrics.generate_s, 2),
                    "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
                    if device == "cuda"
                    else None,
                    "planned_gpu_gib": round(predicted.per_gpu_bytes[0] / 2**30, 2),
                    "planned_batch_tokens": budget,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    result = {
        "device": f"{gpu}, {memory / 2**30:.0f} GiB",
        "model": f"{args.config} shape, random bf16 weights, 49,152-token vocabulary",
        "load_s": round(engine.load_s, 1),
        "prompts": len(rendered),
        "new_tokens": args.new_tokens,
        "build_s": round(build_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
        "runs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'strategy':<12}{'batch':>6}{'tok/s':>10}{'peak GiB':>10}{'planned GiB':>13}")
    for r in rows:
        print(
            f"{r['strategy']:<12}{r['batch_size']:>6}{r['tokens_per_s']:>10}"
            f"{str(r['peak_gpu_gib']):>10}{r['planned_gpu_gib']:>13}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
