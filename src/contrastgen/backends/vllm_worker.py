"""The vLLM side of the vllm backend: runs in the vLLM environment, as its own process.

vLLM pins a transformers (5.x) that the workflow's environment cannot have (4.57, for
bitsandbytes MoE), so the generation job talks to this process over two pipes, one JSON
message per line (vllm_backend.py is the other end). It imports only vLLM, its
transformers, and this package's dependency-free modules (generation, codec, processes).

    python -m contrastgen.backends.vllm_worker --in-fd R --out-fd W --settings JSON

Messages in:  {"op": "generate", "requests": [...], "params": {...}} | {"op": "close"}
Messages out: {"event": "ready"} once; per generate call {"event": "loaded", ...} on the
first, {"event": "done", "index": i, "generations": [...]} as each request finishes, then
{"event": "metrics", "metrics": {...}}; {"event": "error", "message": ...} on failure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback

from contrastgen import go_offline
from contrastgen.generation import Generation, GenParams, Metrics, Request, render_chat


class Worker:
    def __init__(self, settings: dict, out):
        self.settings = settings
        self.out = out
        self.llm = None
        self.max_model_len = 0
        from transformers import AutoTokenizer

        # The same files vLLM's own tokenizer reads; loaded before the engine so the
        # engine's context length can be sized to the prompts it will get.
        self.tokenizer = AutoTokenizer.from_pretrained(
            settings["model"], local_files_only=True, trust_remote_code=False
        )

    def send(self, message: dict) -> None:
        self.out.write(json.dumps(message, ensure_ascii=False) + "\n")
        self.out.flush()

    def load(self, need_len: int, seed: int) -> float:
        """Create the engine, sized for prompts of up to `need_len` tokens with answers."""
        from vllm import LLM

        s = self.settings
        started = time.perf_counter()
        limit = s.get("max_position_embeddings") or need_len
        # rounded up with room to spare: a refine round's prompt carries feedback lines
        self.max_model_len = min(limit, 256 * math.ceil((need_len + 256) / 256))
        kwargs = {
            "model": s["model"],
            "dtype": s["dtype"],
            "seed": seed,
            "tensor_parallel_size": s["tensor_parallel_size"],
            "pipeline_parallel_size": s.get("pipeline_parallel_size", 1),
            "max_model_len": self.max_model_len,
            "enable_prefix_caching": True,
            "enforce_eager": s["enforce_eager"],
            "trust_remote_code": False,
        }
        if s["device"] == "cpu":
            # vLLM's default on CPU reserves 92% of the node's memory for the KV cache and
            # refuses to start when that much is not free: ask for a size instead.
            kwargs["kv_cache_memory_bytes"] = int(s["cpu_kv_cache_gib"] * 2**30)
        else:
            kwargs["gpu_memory_utilization"] = s["gpu_memory_utilization"]
        self.llm = LLM(**kwargs)
        return time.perf_counter() - started

    def generate(self, requests: list[Request], params: GenParams) -> None:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        texts = [render_chat(self.tokenizer, r.messages, r.prefill) for r in requests]
        lengths = [len(ids) for ids in self.tokenizer(texts)["input_ids"]]
        metrics = Metrics(prompts=len(requests), rows=len(requests) * params.samples_per_prompt)
        # the longest prompt with the most new tokens any answer may take, so later calls
        # with the same settings (a benchmark's timed run after its warm-up) fit as well
        need = max(lengths) + params.max_new_tokens
        if self.llm is None:
            metrics.load_s = self.load(need, params.seed)
            loaded = {"load_s": metrics.load_s, "max_model_len": self.max_model_len}
            self.send({"event": "loaded", **loaded})
        elif need > self.max_model_len:
            raise ValueError(
                f"a prompt needs {need} tokens with its answer, more than the "
                f"{self.max_model_len} this engine was started with"
            )
        engine = self.llm.llm_engine
        started = time.perf_counter()
        ids = {}
        for i, (text, request) in enumerate(zip(texts, requests, strict=True)):
            budget = request.budget(params)
            sampling = SamplingParams(
                n=params.samples_per_prompt,
                # 0 is vLLM's greedy; a per-request seed fails on CPU ("CPU Generator does
                # not use offset"): the engine seed makes runs repeatable
                temperature=params.temperature if params.do_sample else 0.0,
                top_p=params.top_p if params.do_sample else 1.0,
                max_tokens=budget,
                min_tokens=min(params.min_new_tokens or 0, budget),
                stop=list(request.stops) or None,
                output_kind=RequestOutputKind.FINAL_ONLY,
            )
            # outputs carry the id given here; add_request returns an internal one
            engine.add_request(f"r{i}", text, sampling)
            ids[f"r{i}"] = i
        while engine.has_unfinished_requests():
            for output in engine.step():
                if not output.finished:
                    continue
                gens = [
                    Generation(c.text, len(c.token_ids), c.finish_reason == "stop")
                    for c in output.outputs
                ]
                metrics.generated_tokens += sum(g.new_tokens for g in gens)
                self.send(
                    {
                        "event": "done",
                        "index": ids[output.request_id],
                        "generations": [g.to_json() for g in gens],
                    }
                )
        metrics.generate_s = time.perf_counter() - started
        metrics.batches = 1  # one continuous batch: requests join and leave as they go
        self.send({"event": "metrics", "metrics": metrics.to_json()})

    def shutdown(self) -> None:
        """Stop vLLM's engine-core and worker processes (they outlive a plain exit)."""
        if self.llm is not None:
            self.llm.llm_engine.engine_core.shutdown()
            self.llm = None


def serve(settings: dict, inp, out) -> None:
    """Answer messages until `close` or the end of the input (the job is gone)."""
    worker = None
    try:
        for line in inp:
            message = json.loads(line)
            if message["op"] == "close":
                break
            try:
                if worker is None:
                    worker = Worker(settings, out)
                worker.generate(
                    [Request.from_json(r) for r in message["requests"]],
                    GenParams.from_json(message["params"]),
                )
            except Exception as exc:  # reported to the job, which raises it with this text
                traceback.print_exc()
                error = {"event": "error", "message": f"{type(exc).__name__}: {exc}"}
                out.write(json.dumps(error) + "\n")
                out.flush()
    finally:
        if worker is not None:
            worker.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--in-fd", type=int, required=True)
    parser.add_argument("--out-fd", type=int, required=True)
    parser.add_argument("--settings", required=True)
    args = parser.parse_args()
    go_offline()
    from contrastgen.processes import die_with_workflow

    # A killed job must not leave an engine running: this worker leads its own process
    # group (vllm_backend starts it in a new session), which vLLM's engine-core and
    # worker processes join, and the whole group goes when the job does.
    die_with_workflow(kill_group=True)
    with (
        os.fdopen(args.in_fd, "r", encoding="utf-8") as inp,
        os.fdopen(args.out_fd, "w", encoding="utf-8") as out,
    ):
        out.write(json.dumps({"event": "ready"}) + "\n")
        out.flush()
        serve(json.loads(args.settings), inp, out)
    sys.stdout.flush()


if __name__ == "__main__":  # vLLM starts its engine in spawned processes: keep the guard
    main()
