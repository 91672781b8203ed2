"""Benchmark of the engines: same sample, same model, side by side.

An engine is a transformers batching strategy, the vllm backend, or a running
OpenAI-compatible server (generator.server) asked one request at a time or up to its
max_concurrency at once. Each runs in its own
Snakemake job (timed by the `benchmark:` directive as well) in one of two modes:

- greedy:  greedy decoding, every row exactly `max_new_tokens` (fixed_new_tokens): batching
           compared like with like, as a kernel benchmark would;
- sampled: what a real round-0 job asks: the generation section's sampling and samples per
           prompt, each answer's own token budget, rows that stop at end of turn or a stop
           mark. A static batch waits for its longest row here; continuous batching does not.

`summarize` compares them: speedup vs the sequential baseline (greedy) or the configured
strategy (sampled) in generated tokens/s, greedy agreement of true_batch with sequential
(left-padding bugs show up there), and each job's load, warm-up and wall seconds.
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
from resource import RUSAGE_CHILDREN, RUSAGE_SELF
from typing import Any

from contrastgen.backends import make_backend
from contrastgen.backends.base import STRATEGIES, StrategyUnavailable
from contrastgen.candidates import prompts
from contrastgen.files import (
    read_benchmark_tsv,
    read_jsonl,
    write_figure,
    write_json,
    write_jsonl,
    write_text,
)
from contrastgen.generation import Generation, GenParams, Metrics, Request
from contrastgen.settings import (
    BenchmarkSettings,
    GenerationSettings,
    GeneratorSettings,
    IngestLimits,
)
from contrastgen.stages.corpus import check_record, read_corpus

log = logging.getLogger(__name__)

# Strategies that send one prompt per generate call: one prompt warms them up.
ONE_PROMPT_PER_CALL = {"sequential", "fake_batch", "continuous"}
MODES = ("greedy", "sampled")
VLLM = "vllm"  # the benchmark's name for the vllm backend, beside the strategies
# The openai backend against generator.server: requests in flight at once (None: the
# configured max_concurrency). The server is already running: these load nothing.
SERVER_ENGINES = {"server_sequential": 1, "server": None}
ENGINES = [*STRATEGIES, VLLM, *SERVER_ENGINES]


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


def benchmark_requests(
    sample: list[dict], mode: str, generation: GenerationSettings, settings: BenchmarkSettings
):
    """The sample's requests and params in `mode` (see the module docstring)."""
    if mode == "greedy":
        requests = [
            Request(tuple(prompts.build_messages(r["instruction"])), "POSITIVE:") for r in sample
        ]
        params = GenParams(
            max_new_tokens=settings.max_new_tokens,
            do_sample=False,
            seed=settings.seed,
            min_new_tokens=settings.max_new_tokens if settings.fixed_new_tokens else None,
        )
        return requests, params
    params = generation.params()
    # round 0 as it runs by default: rule negatives exist, so the LLM writes positives
    # and stops at the NEGATIVE line or a blank one
    requests = [
        prompts.item_request(r["instruction"], [], "POSITIVE:", "NEGATIVE", params.max_new_tokens)
        for r in sample
    ]
    return requests, params


def run_one(
    sample_path: str | Path,
    out_path: str | Path,
    engine: str,
    mode: str,
    generator: GeneratorSettings,
    generation: GenerationSettings,
    settings: BenchmarkSettings,
    threads: int | None = None,
    gpus: int = 0,
) -> dict[str, Any]:
    """Load the model once, warm up, run one engine on the sample in `mode`, record it."""
    import torch

    sample = list(read_jsonl(sample_path))
    requests, params = benchmark_requests(sample, mode, generation, settings)
    generator, bench_generation = engine_settings(engine, generator, generation, settings)
    started = time.perf_counter()
    backend = make_backend(generator, bench_generation, threads, gpus)
    device = backend.device
    in_process_cuda = device == "cuda" and engine != VLLM  # vLLM's memory is its own process's
    if in_process_cuda:
        torch.cuda.reset_peak_memory_stats()
    try:
        backend.generate(warmup_requests(engine, requests, settings.batch_size), params)
    except StrategyUnavailable:
        pass  # reported by the timed run below
    load_s = backend.load_s
    warmup_s = time.perf_counter() - started - load_s
    result: dict[str, Any] = {
        "strategy": engine,
        "mode": mode,
        "device": describe_device(device)
        + (" (vLLM)" if engine == VLLM else "")
        + (f" via {generator.server.base_url}" if engine in SERVER_ENGINES else ""),
        "model": generator.model,
        "load_s": round(load_s, 3),
        "warmup_s": round(warmup_s, 3),
    }
    try:
        with GpuSampler() as gpu:
            wall = time.perf_counter()
            outputs, metrics = backend.generate(requests, params)
            wall = time.perf_counter() - wall
    except StrategyUnavailable as exc:
        log.warning("%s", exc)
        result.update(available=False, reason=str(exc))
        write_json(out_path, result)
        return result
    finally:
        backend.close()
    result.update(available=True, wall_s=round(wall, 3), **timed_figures(metrics, outputs))
    result.update(
        peak_cuda_mb=(
            round(torch.cuda.max_memory_allocated() / 2**20, 1) if in_process_cuda else None
        ),
        gpu_util_mean=gpu.mean(),
        outputs=[gens[0].text for gens in outputs],
    )
    log.info(
        "%s (%s): %.1f tokens/s, %.2f instructions/s",
        engine,
        mode,
        result["tokens_per_s"],
        result["instructions_per_s"],
    )
    write_json(out_path, result)
    return result


def engine_settings(
    engine: str,
    generator: GeneratorSettings,
    generation: GenerationSettings,
    settings: BenchmarkSettings,
) -> tuple[GeneratorSettings, GenerationSettings]:
    """The generator and generation settings one benchmarked engine runs with: its
    backend (a strategy of transformers, vllm, or the server at a concurrency), and the
    benchmark's batching."""
    if engine == VLLM:
        generator = generator.but(backend="vllm")
    elif engine in SERVER_ENGINES:
        concurrency = SERVER_ENGINES[engine] or generator.server.max_concurrency
        generator = generator.but(backend="openai", server={"max_concurrency": concurrency})
    else:
        generator = generator.but(backend="transformers")
    generation = generation.but(
        strategy=engine if engine in STRATEGIES else generation.strategy,
        prefix_cache=settings.prefix_cache,
        batch_size=settings.batch_size,
        token_budget=settings.token_budget,
    )
    return generator, generation


def warmup_requests(engine: str, requests: list[Request], batch_size: int) -> list[Request]:
    """The untimed warm-up: one batch of the real shape with the real parameters. The
    first full-size call pays one-time costs (allocations, kernel selection) that a real
    job pays once over many batches (docs/benchmarks.md). vLLM loads its engine (sized
    to the longest prompt) on its first call: all of them."""
    if engine == VLLM:
        return requests
    if engine in SERVER_ENGINES:
        return requests[:2]  # the server is warm; this checks it answers
    if engine in ONE_PROMPT_PER_CALL:
        return requests[:1]
    return requests[:batch_size]


def timed_figures(metrics: Metrics, outputs: list[list[Generation]]) -> dict[str, Any]:
    """The timed call's figures: its metrics (the job's load_s is apart), the share of
    rows that finished, and the peak memory of this process and its children (the vLLM
    engine runs in child processes, waited for by close())."""
    rows = [g for gens in outputs for g in gens]
    return {
        **{
            k: round(v, 4) if isinstance(v, float) else v
            for k, v in metrics.to_json().items()
            if k != "load_s"  # the timed call loads nothing
        },
        "finished_share": round(sum(g.finished for g in rows) / max(1, len(rows)), 4),
        "peak_rss_mb": round(
            max(resource.getrusage(who).ru_maxrss for who in (RUSAGE_SELF, RUSAGE_CHILDREN)) / 1024,
            1,
        ),
    }


def describe_device(device: str) -> str:
    import torch

    if device == "server":  # the openai backend: the server's hardware is its own
        return "OpenAI-compatible server"
    if device == "cuda":
        return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu}, {torch.get_num_threads()} threads"


def read_tsv(path: str | Path) -> dict[str, float]:
    """A benchmark job's wall seconds and peak memory, from its Snakemake benchmark TSV."""
    values = read_benchmark_tsv(path)
    if values is None:
        raise ValueError(f"{path}: a Snakemake benchmark file without its row")
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
    default_strategy: str,
    summary_path: str | Path,
    report_path: str | Path,
    plot_path: str | Path,
) -> dict[str, Any]:
    """summary.json, report.md and a bar chart of tokens/s per engine and mode.

    The greedy mode's entries sit at the top level (`strategies`, `speedup_vs_sequential`,
    `greedy_agreement`); the sampled mode's under `sampled`, with speedups over the
    configured strategy (`default_strategy`), which is what a user runs without vLLM."""
    by_mode: dict[str, dict[str, dict]] = {mode: {} for mode in MODES}
    outputs: dict[str, list[str]] = {}
    for path, tsv in zip(results, tsvs, strict=True):
        run = json.loads(Path(path).read_text())
        texts = run.pop("outputs", [])
        if run["mode"] == "greedy":
            outputs[run["strategy"]] = texts
        by_mode[run["mode"]][run["strategy"]] = {**run, **read_tsv(tsv)}
    greedy, sampled = by_mode["greedy"], by_mode["sampled"]
    agreement = None
    if outputs.get("sequential") and outputs.get("true_batch"):
        pairs = list(zip(outputs["sequential"], outputs["true_batch"], strict=True))
        agreement = round(sum(a == b for a, b in pairs) / len(pairs), 4)
    first = next(iter({**greedy, **sampled}.values()))
    summary = {
        "device": first["device"].removesuffix(" (vLLM)").split(" via ")[0],
        "model": first["model"],
        "sample_size": sample_size,
        "max_new_tokens": max_new_tokens,
        "strategies": greedy,
        "speedup_vs_sequential": speedups(greedy, "sequential"),
        "greedy_agreement": agreement,
        "sampled": {
            "strategies": sampled,
            "baseline": default_strategy,
            "speedup": speedups(sampled, default_strategy),
            "job_speedup": speedups(sampled, default_strategy, "snakemake_s"),
        },
    }
    write_json(summary_path, summary)
    write_text(report_path, render_report(summary))
    plot_tokens_per_s(summary, plot_path)
    return summary


def speedups(runs: dict[str, dict], base: str, key: str = "tokens_per_s") -> dict[str, float]:
    """Each run's `key` relative to `base`'s: tokens/s, or for job wall time (lower is
    better) how many times faster the whole job was."""
    ref = runs.get(base, {}).get(key) if runs.get(base, {}).get("available") else None
    if not ref:
        return {}
    return {
        name: round(r[key] / ref if key == "tokens_per_s" else ref / r[key], 2)
        for name, r in runs.items()
        if r.get("available") and r.get(key)
    }


def render_report(summary: dict[str, Any]) -> str:
    sampled = summary["sampled"]
    lines = [
        "# Engine benchmark",
        "",
        f"- device: {summary['device']}",
        f"- model: {summary['model']}",
        f"- sample: {summary['sample_size']} instructions",
        f"- greedy: {summary['max_new_tokens']} new tokens per row, greedy decoding",
        "- sampled: the generation settings of a real round 0 (sampling, samples per prompt, "
        "each answer's budget, stops at end of turn)",
        f"- greedy agreement (true_batch vs sequential): {summary['greedy_agreement']}",
        "",
    ]
    for title, runs, speedup, base in (
        (
            "greedy, fixed length",
            summary["strategies"],
            summary["speedup_vs_sequential"],
            "sequential",
        ),
        ("sampled, real settings", sampled["strategies"], sampled["speedup"], sampled["baseline"]),
    ):
        if not runs:
            continue
        lines += [
            f"## {title}",
            "",
            f"| engine | tokens/s | instructions/s | speedup vs {base} | generate s | load s | "
            "warm-up s | job wall s (snakemake) | finished rows | peak RSS MB | peak CUDA MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, s in runs.items():
            if not s.get("available"):
                lines.append(f"| {name} | unavailable: {s.get('reason')} | | | | | | | | | |")
                continue
            lines.append(
                f"| {name} | {s['tokens_per_s']:.1f} | {s['instructions_per_s']:.2f} | "
                f"{speedup.get(name, '')}x | {s['generate_s']:.1f} | "
                f"{s['load_s']:.1f} | {s['warmup_s']:.1f} | {s['snakemake_s']:.1f} | "
                f"{s['finished_share']:.0%} | {s['peak_rss_mb']} | "
                f"{s['peak_cuda_mb'] if s['peak_cuda_mb'] is not None else '-'} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot_tokens_per_s(summary: dict[str, Any], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [
        ("greedy", n, s, summary["speedup_vs_sequential"]) for n, s in summary["strategies"].items()
    ]
    runs += [
        ("sampled", n, s, summary["sampled"]["speedup"])
        for n, s in summary["sampled"]["strategies"].items()
    ]
    runs = [r for r in runs if r[2].get("available")]
    names = [f"{name}\n{mode}" for mode, name, _, _ in runs]
    values = [s["tokens_per_s"] for _, _, s, _ in runs]
    colors = ["#4c72b0" if mode == "greedy" else "#dd8452" for mode, *_ in runs]
    fig, ax = plt.subplots(figsize=(max(7, 1.1 * len(runs)), 3.5))
    bars = ax.bar(names, values, color=colors)
    ax.bar_label(bars, labels=[f"{speedup.get(name, 0)}x" for _, name, _, speedup in runs])
    ax.tick_params(axis="x", labelsize=7)
    ax.set_ylabel("generated tokens / s")
    ax.set_title(f"{summary['sample_size']} instructions on {summary['device']}", fontsize=9)
    fig.tight_layout()
    write_figure(path, fig, dpi=120)
