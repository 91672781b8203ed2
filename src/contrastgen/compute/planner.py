"""GPU memory planner: how many GPUs one model replica needs, and where each layer goes.

Only the model's config.json is read: the model is built on the meta device (accelerate's
`init_empty_weights`), so its real module tree, as the installed transformers builds it,
decides what bitsandbytes would quantize. Per GPU the plan keeps a reserve for the CUDA
context and the activations of a batch, and room for the KV cache of the layers placed
there. Layers are packed in forward order onto as few GPUs as possible (contiguous
packing, which is what pipeline-style model parallelism in accelerate runs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from contrastgen.compute.devices import has_bf16, resolve_dtype
from contrastgen.compute.models import model_dir_problem
from contrastgen.errors import ConfigError, UserError

GiB = 1024**3
MiB = 1024**2
CUDA_CONTEXT_BYTES = 512 * MiB  # CUDA context + cuBLAS workspace, measured ~300-500 MiB
DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4}
QUANTIZATIONS = ("none", "8bit", "4bit")  # bitsandbytes, the transformers backend
VLLM_QUANTIZATIONS = ("none", "awq", "gptq")  # 4-bit checkpoints vLLM runs
NF4_BLOCK = 64  # bitsandbytes 4-bit: one fp32 absmax per block of 64 weights
GROUP = 128  # AWQ / GPTQ: one fp16 scale and one 4-bit zero point per group of 128 weights
# Budgets the planner tries when it chooses one (a replica holds at least one batch row
# of a ~700-token prompt with its answer).
BUDGET_STEP = 1024
# The CLI's default: config.yaml's generation.token_budget (a test keeps them equal).
DEFAULT_BATCH_TOKENS = 16384


class PlanError(UserError, ValueError):
    """The model cannot be placed as asked; the message carries the numbers."""


def parse_bytes(text: str | int) -> int:
    """'11GiB', '80GB', '11G', '512MiB' or a plain byte count -> bytes."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)(i?B?)\s*", str(text), re.I)
    if not m:
        raise ValueError(f"not a memory size: {text!r} (use e.g. 11GiB, 80GB, 24G)")
    number, prefix, suffix = float(m[1]), m[2].upper(), m[3].lower()
    power = " KMGT".index(prefix) if prefix else 0
    base = 1000 if suffix == "b" and prefix else 1024  # GB is decimal, GiB and G binary
    return int(number * base**power)


def human(n: float) -> str:
    return f"{n / GiB:.2f} GiB"


@dataclass
class Block:
    """One placement unit: a decoder layer, the embeddings, the final norm, the LM head."""

    name: str
    weight_bytes: int
    kv_bytes: int = 0  # KV cache of the batch, for decoder layers


@dataclass
class Placement:
    model: str
    quantization: str
    dtype: str
    gpus: int
    gpu_memory_bytes: int
    batch_tokens: int
    reserve_bytes: int
    weight_bytes: int
    kv_bytes_per_token: int
    params: int
    quantized_params: int
    unquantized_params: dict[str, int]
    gpus_per_replica: int
    replicas: int
    per_gpu_bytes: list[int]
    kv_tokens: int
    device_map: dict[str, int]
    max_memory: dict[int, int]
    idle_gpus: int = 0
    # Why this layout and budget, or what the user's budget costs (idle GPUs).
    note: str = ""
    blocks: list[Block] = field(repr=False, default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("blocks")
        out["max_memory"] = {str(k): v for k, v in self.max_memory.items()}
        return out

    def table(self) -> str:
        """The numbers behind the answer, for people."""
        rows = [
            ("model", self.model),
            ("quantization / dtype", f"{self.quantization} / {self.dtype}"),
            (
                "parameters",
                f"{self.params / 1e9:.2f} B ({self.quantized_params / 1e9:.2f} B quantized)",
            ),
        ]
        for kind, n in self.unquantized_params.items():
            rows.append((f"  kept 16-bit: {kind}", f"{n / 1e9:.3f} B"))
        rows += [
            ("weights", human(self.weight_bytes)),
            ("KV cache per token", f"{self.kv_bytes_per_token / 1024:.1f} KiB"),
            (
                f"KV cache for {self.batch_tokens} tokens",
                human(self.kv_bytes_per_token * self.batch_tokens),
            ),
            ("reserve per GPU (CUDA context + activations)", human(self.reserve_bytes)),
            ("GPU memory", f"{self.gpus} x {human(self.gpu_memory_bytes)}"),
            ("GPUs per replica", str(self.gpus_per_replica)),
            (
                "replicas",
                f"{self.replicas} (on {self.replicas * self.gpus_per_replica} of {self.gpus} GPUs)",
            ),
            ("KV tokens one replica can hold", str(self.kv_tokens)),
            ("idle GPUs", str(self.idle_gpus)),
        ]
        for i, used in enumerate(self.per_gpu_bytes):
            layers = [b for b, d in self.device_map.items() if d == i]
            rows.append((f"  GPU {i} of a replica", f"{human(used)} used, {len(layers)} blocks"))
        width = max(len(k) for k, _ in rows)
        text = "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
        return text + (f"\n{self.note}" if self.note else "")


@dataclass(frozen=True)
class Shape:
    """What memory depends on in a config (its text part, for multimodal configs)."""

    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    hidden: int
    intermediate: int

    @classmethod
    def of(cls, config) -> Shape:
        text = getattr(config, "text_config", None) or config
        heads = text.num_attention_heads
        return cls(
            layers=text.num_hidden_layers,
            heads=heads,
            kv_heads=getattr(text, "num_key_value_heads", None) or heads,
            head_dim=getattr(text, "head_dim", None) or text.hidden_size // heads,
            hidden=text.hidden_size,
            intermediate=getattr(text, "intermediate_size", 4 * text.hidden_size),
        )

    def kv_bytes_per_token_layer(self, dtype_bytes: int) -> int:
        return 2 * self.kv_heads * self.head_dim * dtype_bytes  # K and V, compute dtype

    def activation_bytes(self, tokens: int, dtype_bytes: int) -> int:
        """One forward pass over `tokens`: the widest layer's hidden states."""
        return tokens * (2 * self.intermediate + self.hidden) * dtype_bytes


def _meta_model(config):
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM

    with init_empty_weights():
        return AutoModelForCausalLM.from_config(config, dtype=torch.float16)


def _head_names(model) -> set[str]:
    """Modules bitsandbytes leaves in 16-bit: the output embedding (lm_head), as transformers."""
    out = model.get_output_embeddings()
    return {name for name, module in model.named_modules() if module is out}


def weight_bytes_of(
    model, quantization: str, dtype_bytes: int
) -> tuple[dict[str, int], dict[str, int], int]:
    """Bytes per parameter name, params kept 16-bit by kind, and the quantized count.

    transformers swaps exactly `nn.Linear` modules for bitsandbytes layers: 8-bit keeps an
    int8 weight plus one fp32 scale per output row; 4-bit NF4 packs two weights per byte
    plus one fp32 absmax per block of 64. Everything else (embeddings, norms, biases, the
    LM head, and fused 3D expert tensors of MoE models) stays in the compute dtype.
    """
    from torch import nn

    heads = _head_names(model)
    sizes: dict[str, int] = {}
    kept: dict[str, int] = {}
    quantized = 0
    seen: set[int] = set()  # tied weights (embeddings = LM head) are stored once
    for mod_name, module in model.named_modules():
        for p_name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            name = f"{mod_name}.{p_name}" if mod_name else p_name
            n = param.numel()
            linear = type(module) is nn.Linear and p_name == "weight" and mod_name not in heads
            if quantization != "none" and linear:
                quantized += n
            if quantization == "8bit" and linear:
                sizes[name] = n + module.out_features * 4
            elif quantization == "4bit" and linear:
                sizes[name] = math.ceil(n / 2) + math.ceil(n / NF4_BLOCK) * 4
            elif quantization in ("awq", "gptq") and linear:
                sizes[name] = math.ceil(n / 2) + math.ceil(n / GROUP) * (2 + 1)  # ~half a zero byte
            else:
                sizes[name] = n * dtype_bytes
                if quantization != "none" and param.dim() >= 2:
                    kind = "lm_head" if mod_name in heads else type(module).__name__
                    kind += f".{p_name}" if p_name != "weight" else ""
                    kept[kind] = kept.get(kind, 0) + n
    return sizes, kept, quantized


def blocks_of(model, sizes: dict[str, int]) -> list[Block]:
    """Group parameters into placement units, in forward order (decoder layers unsplit)."""
    no_split = set(getattr(model, "_no_split_modules", None) or [])
    units = [n for n, m in model.named_modules() if type(m).__name__ in no_split]
    order: dict[str, int] = {}
    for name in sizes:
        unit = next((u for u in units if name.startswith(u + ".")), name.rsplit(".", 1)[0])
        order[unit] = order.get(unit, 0) + sizes[name]
    return [Block(name, size) for name, size in order.items()]


def load_config(model_dir: str | Path | None, config=None):
    """The transformers config of `model_dir` (its config.json alone), or `config`."""
    from transformers import AutoConfig

    if config is not None:
        return config
    problem = model_dir_problem(model_dir)
    if problem:
        raise PlanError(f"{problem} (the planner reads only that file)")
    return AutoConfig.from_pretrained(
        str(model_dir), local_files_only=True, trust_remote_code=False
    )


def plan_dtype(dtype: str, backend: str, compute_capability: float | None) -> str:
    """generator.dtype on the planned GPUs (devices.resolve_dtype); a card not seen
    (None: no nvidia-smi here, as on a Slurm submit host) is assumed to have bf16."""
    bf16 = compute_capability is None or has_bf16(compute_capability)
    try:
        return resolve_dtype(dtype, "cuda", backend, bf16)
    except ConfigError as exc:
        raise PlanError(f"{exc} (the GPUs' compute capability: {compute_capability})") from exc


def plan(
    model_dir: str | Path | None = None,
    gpus: int = 1,
    gpu_memory: str | int = "80GiB",
    quantization: str = "none",
    dtype: str = "auto",
    batch_tokens: int = DEFAULT_BATCH_TOKENS,
    config=None,
    model=None,
    choose_budget: bool = False,
    compute_capability: float | None = None,
) -> Placement:
    """Place one replica on as few GPUs as possible; as many replicas as `gpus` allow.

    `choose_budget`: `batch_tokens` is the most one replica takes, and the planner picks
    the budget (in steps of 1,024) and with it the GPUs per replica that do the most work
    at once, replicas x budget (rows in flight): a smaller budget that lets another
    replica fit wins. Otherwise `batch_tokens` is kept, and `note` says what it costs
    when GPUs sit idle that a smaller budget would use. `config` (a transformers config)
    replaces reading `model_dir`; `model`, a module tree already built on the meta
    device, replaces building one from the config.
    """
    if quantization not in QUANTIZATIONS:
        raise PlanError(f"quantization must be one of {QUANTIZATIONS}, not {quantization!r}")
    config = load_config(model_dir, config)
    dtype = plan_dtype(dtype, "transformers", compute_capability)
    if model is None:
        model = _meta_model(config)

    def place_at(tokens: int) -> Placement:
        return _place(model_dir, gpus, gpu_memory, quantization, dtype, tokens, config, model)

    fixed = None
    try:
        fixed = place_at(batch_tokens)
    except PlanError:
        if not choose_budget:
            raise
    smaller = _smaller_budgets(place_at, batch_tokens)
    if not choose_budget:
        better = next((p for p in smaller if p.replicas > fixed.replicas), None)
        if fixed.idle_gpus and better:
            fixed.note = (
                f"{fixed.idle_gpus} GPUs idle; token_budget {better.batch_tokens} would run "
                f"{better.replicas} replicas of {better.gpus_per_replica} GPUs"
            )
        return fixed
    return _most_work(fixed, smaller, batch_tokens, place_at)


def _smaller_budgets(place_at: Callable[[int], Placement], batch_tokens: int) -> list[Placement]:
    """The placements of budgets below `batch_tokens` that fit, largest first, down to
    the first that fills every GPU with one-GPU replicas (nothing smaller does more)."""
    smaller = []
    for tokens in range(batch_tokens - BUDGET_STEP, 0, -BUDGET_STEP):
        try:
            smaller.append(place_at(tokens))
        except PlanError:
            continue  # too big still: a smaller budget may fit
        if smaller[-1].idle_gpus == 0 and smaller[-1].gpus_per_replica == 1:
            break
    return smaller


def _most_work(
    fixed: Placement | None,
    smaller: list[Placement],
    batch_tokens: int,
    place_at: Callable[[int], Placement],
) -> Placement:
    """Of the placements that fit, the one with the most tokens in flight (replicas x
    budget; ties to fewer idle GPUs), its note saying why."""
    candidates = [p for p in [fixed, *smaller] if p is not None]
    if not candidates:
        try:
            place_at(BUDGET_STEP)
        except PlanError as exc:
            raise PlanError(f"no budget down to {BUDGET_STEP} tokens fits: {exc}") from None
    best = max(candidates, key=lambda p: (p.replicas * p.batch_tokens, -p.idle_gpus))
    if fixed is not None and best is not fixed:
        best.note = (
            f"token_budget {best.batch_tokens} per replica (of {batch_tokens} allowed): "
            f"{best.replicas} replicas of {best.gpus_per_replica} GPUs do "
            f"{best.replicas * best.batch_tokens} tokens at once, where {batch_tokens} would "
            f"run {fixed.replicas} of {fixed.gpus_per_replica} ({fixed.idle_gpus} GPUs idle)"
        )
    elif best is fixed:
        best.note = f"token_budget {batch_tokens} per replica: the most work at once"
    else:
        best.note = f"token_budget {best.batch_tokens}: {batch_tokens} does not fit"
    return best


def _pack(blocks: list[Block], gpu_bytes: int, reserve: int) -> tuple[list[list[Block]], list[int]]:
    """Blocks onto GPUs in order, each GPU filled up to its memory less `reserve` before
    the next: the blocks of each GPU and the bytes they use."""
    budget = gpu_bytes - reserve
    placed: list[list[Block]] = [[]]
    used = [0]
    for b in blocks:
        need = b.weight_bytes + b.kv_bytes
        if need > budget:
            raise PlanError(
                f"block {b.name} needs {human(need)} (weights {human(b.weight_bytes)} + KV "
                f"{human(b.kv_bytes)}), more than one GPU offers after its reserve "
                f"({human(gpu_bytes)} - {human(reserve)} = {human(budget)})"
            )
        if used[-1] + need > budget:
            placed.append([])
            used.append(0)
        placed[-1].append(b)
        used[-1] += need
    return placed, used


def _place(
    model_dir,
    gpus: int,
    gpu_memory,
    quantization: str,
    dtype: str,
    batch_tokens: int,
    config,
    model,
) -> Placement:
    """The placement of one replica at a fixed batch budget (see `plan`)."""
    dtype_bytes = DTYPE_BYTES[dtype]
    gpu_bytes = parse_bytes(gpu_memory)
    sizes, kept, quantized = weight_bytes_of(model, quantization, dtype_bytes)
    blocks = blocks_of(model, sizes)

    shape = Shape.of(config)
    layers = shape.layers
    kv_per_token_layer = shape.kv_bytes_per_token_layer(dtype_bytes)
    layer_names = [b.name for b in blocks if re.search(r"\.\d+$", b.name)]
    if len(layer_names) != layers:
        raise PlanError(f"found {len(layer_names)} decoder layers, config says {layers}")
    for b in blocks:
        if b.name in layer_names:
            b.kv_bytes = kv_per_token_layer * batch_tokens

    activations = shape.activation_bytes(batch_tokens, dtype_bytes)
    reserve = CUDA_CONTEXT_BYTES + activations
    budget = gpu_bytes - reserve
    weight_total = sum(b.weight_bytes for b in blocks)
    kv_total = kv_per_token_layer * layers * batch_tokens
    if budget <= 0:
        raise PlanError(
            f"a GPU of {human(gpu_bytes)} has no room left after the reserve of "
            f"{human(reserve)} (CUDA context + activations of {batch_tokens} batch tokens); "
            "lower the batch token budget"
        )

    placed, used = _pack(blocks, gpu_bytes, reserve)
    per_replica = len(placed)
    if per_replica > gpus:
        why = ""
        if kept:
            why = "; kept in 16-bit by bitsandbytes (it quantizes nn.Linear only): " + ", ".join(
                f"{kind} {n / 1e9:.2f} B params" for kind, n in kept.items()
            )
        raise PlanError(
            f"one replica of {model_dir or config.model_type} needs {per_replica} GPUs of "
            f"{human(gpu_bytes)} but only {gpus} are given: weights {human(weight_total)} "
            f"({quantization}, {dtype}) + KV cache {human(kv_total)} for {batch_tokens} tokens "
            f"+ {human(reserve)} reserve per GPU{why}"
        )
    free = sum(budget - u for u in used)
    return Placement(
        model=str(model_dir or config.model_type),
        quantization=quantization,
        dtype=dtype,
        gpus=gpus,
        gpu_memory_bytes=gpu_bytes,
        batch_tokens=batch_tokens,
        reserve_bytes=reserve,
        weight_bytes=weight_total,
        kv_bytes_per_token=kv_per_token_layer * layers,
        params=sum(p.numel() for p in model.parameters()),
        quantized_params=quantized,
        unquantized_params=kept,
        gpus_per_replica=per_replica,
        replicas=gpus // per_replica,
        idle_gpus=gpus - gpus // per_replica * per_replica,
        per_gpu_bytes=[u + reserve for u in used],
        kv_tokens=batch_tokens + free // (kv_per_token_layer * layers),
        device_map={b.name: i for i, group in enumerate(placed) for b in group},
        max_memory={i: budget for i in range(per_replica)},
        blocks=blocks,
    )


# ---------------------------------------------------------------- vLLM layouts

# vLLM profiles the activations of one forward pass over its scheduler's token budget
# (max_num_batched_tokens; 8,192 with chunked prefill): reserved per GPU beside the CUDA
# context, split over the tensor-parallel ranks.
VLLM_BATCHED_TOKENS = 8192


@dataclass
class VllmLayout:
    tensor_parallel: int
    pipeline_parallel: int
    replicas: int
    idle_gpus: int
    weight_bytes_per_gpu: int
    kv_tokens: int  # KV-cache tokens one replica holds
    work: int  # replicas x min(kv_tokens, batch_tokens): tokens in flight at once

    @property
    def gpus_per_replica(self) -> int:
        return self.tensor_parallel * self.pipeline_parallel

    def describe(self) -> str:
        return (
            f"TP {self.tensor_parallel} x PP {self.pipeline_parallel}: {self.replicas} "
            f"replicas of {self.gpus_per_replica} GPUs, {self.idle_gpus} idle, "
            f"{self.kv_tokens} KV tokens each"
        )


@dataclass
class VllmPlacement:
    model: str
    quantization: str
    dtype: str
    gpus: int
    gpu_memory_bytes: int
    gpu_memory_utilization: float
    batch_tokens: int
    weight_bytes: int
    kv_bytes_per_token: int
    attention_heads: int
    kv_heads: int
    chosen: VllmLayout
    others: list[VllmLayout]
    note: str

    @property
    def gpus_per_replica(self) -> int:
        return self.chosen.gpus_per_replica

    @property
    def replicas(self) -> int:
        return self.chosen.replicas

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["backend"] = "vllm"
        out["gpus_per_replica"] = self.gpus_per_replica
        out["replicas"] = self.replicas
        out["idle_gpus"] = self.chosen.idle_gpus
        return out

    def table(self) -> str:
        rows = [
            ("model", self.model),
            ("backend", "vllm"),
            ("quantization / dtype", f"{self.quantization} / {self.dtype}"),
            ("weights", human(self.weight_bytes)),
            ("attention heads / KV heads", f"{self.attention_heads} / {self.kv_heads}"),
            ("KV cache per token", f"{self.kv_bytes_per_token / 1024:.1f} KiB"),
            (
                "GPU memory",
                f"{self.gpus} x {human(self.gpu_memory_bytes)}, "
                f"{self.gpu_memory_utilization:.0%} for vLLM",
            ),
            ("chosen", self.chosen.describe()),
        ]
        rows += [("  also fits", layout.describe()) for layout in self.others[:4]]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows) + f"\n{self.note}"


def checkpoint_quantization(config) -> str:
    """The 4-bit method a checkpoint's config.json declares (quantization_config), or none."""
    qc = getattr(config, "quantization_config", None) or {}
    method = (qc.get("quant_method") if isinstance(qc, dict) else None) or "none"
    return method if method in VLLM_QUANTIZATIONS else "none"


def plan_vllm(
    model_dir: str | Path | None = None,
    gpus: int = 1,
    gpu_memory: str | int = "80GiB",
    quantization: str = "auto",
    dtype: str = "auto",
    batch_tokens: int = DEFAULT_BATCH_TOKENS,
    gpu_memory_utilization: float = 0.9,
    config=None,
    model=None,
    compute_capability: float | None = None,
) -> VllmPlacement:
    """The vLLM layout of `gpus` GPUs, from config.json alone: tensor parallel size TP
    (it must divide the attention heads and the KV heads), pipeline stages PP where TP
    alone cannot fit, replicas = GPUs / (TP x PP).

    Per GPU vLLM may use `gpu_memory_utilization` of its memory for the weights (split
    evenly over the TP x PP GPUs of a replica), the activation reserve and the KV cache;
    a layout fits when its KV cache holds one `batch_tokens` sequence budget. Of the
    layouts that fit, the one with the most tokens in flight at once wins: replicas x
    min(KV tokens, batch_tokens), a replica gaining nothing from KV room beyond the
    budget it is sent; ties go to fewer idle GPUs, then to tensor parallel (every GPU
    works on every token) over pipeline stages.
    """
    config = load_config(model_dir, config)
    if quantization == "auto":
        quantization = checkpoint_quantization(config)
    if quantization not in VLLM_QUANTIZATIONS:
        raise PlanError(
            f"quantization for vllm must be auto or one of {VLLM_QUANTIZATIONS}, not "
            f"{quantization!r} (bitsandbytes 8bit/4bit is the transformers backend's)"
        )
    dtype = plan_dtype(dtype, "vllm", compute_capability)
    if model is None:
        model = _meta_model(config)
    sizes, _, _ = weight_bytes_of(model, quantization, DTYPE_BYTES[dtype])
    weights = sum(sizes.values())
    shape = Shape.of(config)
    heads, kv_heads, layers = shape.heads, shape.kv_heads, shape.layers
    kv_per_token = shape.kv_bytes_per_token_layer(DTYPE_BYTES[dtype]) * layers
    activations = shape.activation_bytes(VLLM_BATCHED_TOKENS, DTYPE_BYTES[dtype])
    usable = int(parse_bytes(gpu_memory) * gpu_memory_utilization)
    layouts = _vllm_layouts(gpus, shape, weights, kv_per_token, usable, activations, batch_tokens)
    if not layouts:
        raise PlanError(
            f"no layout of {gpus} GPUs of {human(parse_bytes(gpu_memory))} holds "
            f"{model_dir or config.model_type} ({human(weights)} of {quantization}/{dtype} "
            f"weights) with a KV cache of {batch_tokens} tokens ({human(kv_per_token)} per 1 "
            f"token x {batch_tokens}); tensor parallel sizes must divide {heads} attention "
            f"and {kv_heads} KV heads"
        )
    layouts.sort(key=lambda x: (-x.work, x.idle_gpus, x.pipeline_parallel))
    chosen, others = layouts[0], layouts[1:]
    return VllmPlacement(
        model=str(model_dir or config.model_type),
        quantization=quantization,
        dtype=dtype,
        gpus=gpus,
        gpu_memory_bytes=parse_bytes(gpu_memory),
        gpu_memory_utilization=gpu_memory_utilization,
        batch_tokens=batch_tokens,
        weight_bytes=weights,
        kv_bytes_per_token=kv_per_token,
        attention_heads=heads,
        kv_heads=kv_heads,
        chosen=chosen,
        others=others,
        note=_vllm_note(chosen, layouts),
    )


def _vllm_layouts(
    gpus: int,
    shape: Shape,
    weights: int,
    kv_per_token: int,
    usable: int,
    activations: int,
    batch_tokens: int,
) -> list[VllmLayout]:
    """Every TP x PP layout whose KV cache holds a `batch_tokens` budget: `usable` bytes
    per GPU for the weights split evenly, the CUDA context, the activations split over
    the TP ranks, and the KV cache."""
    layouts = []
    for tp in (t for t in range(1, gpus + 1) if shape.heads % t == 0 and shape.kv_heads % t == 0):
        for pp in range(1, min(shape.layers, gpus // tp) + 1):
            n = tp * pp
            per_gpu = math.ceil(weights / n)
            kv_room = usable - per_gpu - CUDA_CONTEXT_BYTES - activations // tp
            kv_tokens = max(0, kv_room) * n // kv_per_token
            if kv_tokens < batch_tokens:
                continue
            replicas = gpus // n
            work = replicas * min(kv_tokens, batch_tokens)
            layouts.append(
                VllmLayout(tp, pp, replicas, gpus - replicas * n, per_gpu, kv_tokens, work)
            )
    return layouts


def _vllm_note(chosen: VllmLayout, layouts: list[VllmLayout]) -> str:
    """Why `chosen` won, beside tensor parallel alone and a layout with fewer idle GPUs."""
    tp_only = next((x for x in layouts if x.pipeline_parallel == 1), None)
    note = f"chose {chosen.describe()}: {chosen.work} tokens in flight at once"
    if tp_only is not None and tp_only is not chosen:
        note += f"; tensor parallel alone: {tp_only.describe()} ({tp_only.work} tokens)"
    elif tp_only is None:
        note += "; tensor parallel alone fits on none of these GPUs"
    fuller = next((x for x in layouts if x.idle_gpus < chosen.idle_gpus), None)
    if fuller is not None:
        note += f"; fewer idle GPUs: {fuller.describe()} ({fuller.work} tokens)"
    return note


def place(
    backend: str,
    model_dir: str | Path,
    gpus: int,
    gpu_memory: str | int,
    *,
    batch_tokens: int,
    quantization: str = "none",
    dtype: str = "auto",
    choose_budget: bool = False,
    gpu_memory_utilization: float = 0.9,
    compute_capability: float | None = None,
) -> Placement | VllmPlacement:
    """The layout for `backend`: vLLM's tensor x pipeline parallel (quantization none
    there means the checkpoint's own), else transformers' packing of layers, where
    `choose_budget` lets the planner pick the token budget up to `batch_tokens`."""
    if backend == "vllm":
        return plan_vllm(
            model_dir,
            gpus,
            gpu_memory,
            "auto" if quantization == "none" else quantization,
            dtype,
            batch_tokens,
            gpu_memory_utilization,
            compute_capability=compute_capability,
        )
    return plan(
        model_dir,
        gpus,
        gpu_memory,
        quantization,
        dtype,
        batch_tokens,
        choose_budget=choose_budget,
        compute_capability=compute_capability,
    )
