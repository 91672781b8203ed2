"""Benchmark of the batching strategies: same sample, same model, side by side.

Each strategy runs in its own Snakemake job (timed by the `benchmark:` directive as well)
and writes its engine metrics and greedy outputs; `summarize` compares them: speedup vs
the sequential baseline in generated tokens/s, and greedy agreement of true_batch with
sequential (left-padding bugs show up there).
"""

from __future__ import annotations

import json
import logging
import platform
import random
import resource
import threading
import time
from pathlib import Path
from typing import Any

from . import prompts
from .corpus import IngestLimits, check_record, read_corpus
from .engine import BatchPlan, GenParams, StrategyUnavailable, engine_from_settings, run_strategy
from .io import read_jsonl, write_json, write_jsonl

log = logging.getLogger(__name__)

# Strategies that send one prompt per generate call: one prompt warms them up.
ONE_PROMPT_PER_CALL = {"sequential", "fake_batch", "continuous"}


def draw_sample(
    corpus: str | Path, out_path: str | Path, size: int, seed: int, limits: IngestLimits
) -> int:
    """A fixed, seeded sample of usable instructions (distinct texts) from the corpus."""
    seen, usable = set(), []
    for rec in read_corpus(corpus):
        text, reason = check_record(rec, limits)
        if reason is None and text.lower() not in seen:
            seen.add(text.lower())
            usable.append({"id": rec.id, "instruction": text})
    rng = random.Random(seed)
    sample = rng.sample(usable, min(size, len(usable)))
    return write_jsonl(out_path, sample)


class GpuSampler:
    """Samples GPU utilisation with NVML in a thread, where NVML and a GPU are present."""

    def __init__(self, interval_s: float = 0.2):
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = None
        try:
            import pynvml

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._nvml = pynvml
        except Exception:  # no NVML library or no GPU: utilisation is simply not reported
            self._handles = []
        self.interval_s = interval_s

    def __enter__(self):
        if self._handles:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.interval_s):
            rates = [self._nvml.nvmlDeviceGetUtilizationRates(h).gpu for h in self._handles]
            self.samples.append(max(rates))

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread:
            self._thread.join()

    def mean(self) -> float | None:
        return round(sum(self.samples) / len(self.samples), 1) if self.samples else None


def run_one(
    sample_path: str | Path,
    out_path: str | Path,
    strategy: str,
    generator: dict,
    settings: dict,
    threads: int | None = None,
) -> dict[str, Any]:
    """Load the model once, run one strategy on the sample with greedy decoding, record it."""
    import torch

    sample = list(read_jsonl(sample_path))
    started = time.perf_counter()
    engine = engine_from_settings(generator, threads, settings["prefix_cache"])
    load_s = time.perf_counter() - started
    texts = [
        prompts.render_prompt(engine.tokenizer, r["instruction"], None, "POSITIVE:") for r in sample
    ]
    params = GenParams(
        max_new_tokens=settings["max_new_tokens"],
        do_sample=False,
        seed=settings["seed"],
        min_new_tokens=settings["max_new_tokens"] if settings["fixed_new_tokens"] else None,
    )
    plan = BatchPlan(settings["batch_size"], settings["token_budget"])
    if engine.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    # Warm-up, untimed: one batch of the real shape with the real parameters. The first
    # full-size call pays one-time costs (allocations, kernel selection) that a real job
    # pays once over many batches; measured here: 39 s cold vs 26 s warm for 64 rows.
    warm = texts[:1] if strategy in ONE_PROMPT_PER_CALL else texts[: settings["batch_size"]]
    started = time.perf_counter()
    try:
        run_strategy(strategy, engine, warm, params, plan)
    except StrategyUnavailable:
        pass  # reported by the timed run below
    warmup_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "strategy": strategy,
        "device": describe_device(engine.device),
        "model": generator["model"],
        "load_s": round(load_s, 3),
        "warmup_s": round(warmup_s, 3),
    }
    try:
        with GpuSampler() as gpu:
            wall = time.perf_counter()
            outputs, metrics = run_strategy(strategy, engine, texts, params, plan)
            wall = time.perf_counter() - wall
    except StrategyUnavailable as exc:
        log.warning("%s", exc)
        result.update(available=False, reason=str(exc))
        write_json(out_path, result)
        return result
    result.update(
        available=True,
        wall_s=round(wall, 3),
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.to_json().items()},
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        peak_cuda_mb=(
            round(torch.cuda.max_memory_allocated() / 2**20, 1) if engine.device == "cuda" else None
        ),
        gpu_util_mean=gpu.mean(),
        outputs=[gens[0].text for gens in outputs],
    )
    log.info(
        "%s: %.1f tokens/s, %.2f instructions/s",
        strategy,
        result["tokens_per_s"],
        result["instructions_per_s"],
    )
    write_json(out_path, result)
    return result


def describe_device(device: str) -> str:
    import torch

    if device == "cuda":
        return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu}, {torch.get_num_threads()} threads"


def read_tsv(path: str | Path) -> dict[str, float]:
    lines = Path(path).read_text().splitlines()
    header, row = lines[0].split("\t"), lines[1].split("\t")
    values = dict(zip(header, row, strict=True))
    return {"snakemake_s": float(values["s"]), "snakemake_max_rss_mb": _float(values["max_rss"])}


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def summarize(
    results: list[str | Path],
    tsvs: list[str | Path],
    sample_size: int,
    max_new_tokens: int,
    summary_path: str | Path,
    report_path: str | Path,
    plot_path: str | Path,
) -> dict[str, Any]:
    """summary.json, report.md and a bar chart of tokens/s per strategy."""
    runs = [json.loads(Path(p).read_text()) for p in results]
    strategies: dict[str, dict] = {}
    outputs: dict[str, list[str]] = {}
    for run, tsv in zip(runs, tsvs, strict=True):
        name = run["strategy"]
        outputs[name] = run.pop("outputs", [])
        strategies[name] = {**run, **read_tsv(tsv)}
    base = strategies.get("sequential", {}).get("tokens_per_s")
    speedup = {
        name: round(s["tokens_per_s"] / base, 2)
        for name, s in strategies.items()
        if s.get("available") and base
    }
    agreement = None
    if outputs.get("sequential") and outputs.get("true_batch"):
        pairs = list(zip(outputs["sequential"], outputs["true_batch"], strict=True))
        agreement = round(sum(a == b for a, b in pairs) / len(pairs), 4)
    first = next(iter(strategies.values()))
    summary = {
        "device": first["device"],
        "model": first["model"],
        "sample_size": sample_size,
        "max_new_tokens": max_new_tokens,
        "strategies": strategies,
        "speedup_vs_sequential": speedup,
        "greedy_agreement": agreement,
    }
    write_json(summary_path, summary)
    Path(report_path).write_text(render_report(summary))
    plot_tokens_per_s(summary, plot_path)
    return summary


def render_report(summary: dict[str, Any]) -> str:
    lines = [
        "# Batching benchmark",
        "",
        f"- device: {summary['device']}",
        f"- model: {summary['model']}",
        f"- sample: {summary['sample_size']} instructions, {summary['max_new_tokens']} new "
        "tokens max, greedy decoding",
        f"- greedy agreement (true_batch vs sequential): {summary['greedy_agreement']}",
        "",
        "| strategy | tokens/s | instructions/s | speedup | generate s | load s | warm-up s | "
        "wall s (snakemake) | peak RSS MB | peak CUDA MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary["strategies"].items():
        if not s.get("available"):
            lines.append(f"| {name} | unavailable: {s.get('reason')} | | | | | | | | |")
            continue
        lines.append(
            f"| {name} | {s['tokens_per_s']:.1f} | {s['instructions_per_s']:.2f} | "
            f"{summary['speedup_vs_sequential'].get(name, '')}x | {s['generate_s']:.1f} | "
            f"{s['load_s']:.1f} | {s['warmup_s']:.1f} | {s['snakemake_s']:.1f} | "
            f"{s['peak_rss_mb']} | "
            f"{s['peak_cuda_mb'] if s['peak_cuda_mb'] is not None else '-'} |"
        )
    return "\n".join(lines) + "\n"


def plot_tokens_per_s(summary: dict[str, Any], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, s in summary["strategies"].items() if s.get("available")]
    values = [summary["strategies"][n]["tokens_per_s"] for n in names]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    bars = ax.bar(names, values, color="#4c72b0")
    ax.bar_label(bars, labels=[f"{summary['speedup_vs_sequential'].get(n, 0)}x" for n in names])
    ax.set_ylabel("generated tokens / s")
    ax.set_title(f"{summary['sample_size']} instructions on {summary['device']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
