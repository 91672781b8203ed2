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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .config import model_dir_problem
from .errors import UserError

GiB = 1024**3
MiB = 1024**2
CUDA_CONTEXT_BYTES = 512 * MiB  # CUDA context + cuBLAS workspace, measured ~300-500 MiB
DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4}
QUANTIZATIONS = ("none", "8bit", "4bit")
NF4_BLOCK = 64  # bitsandbytes 4-bit: one fp32 absmax per block of 64 weights


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
class Plan:
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
        ]
        for i, used in enumerate(self.per_gpu_bytes):
            layers = [b for b, d in self.device_map.items() if d == i]
            rows.append((f"  GPU {i} of a replica", f"{human(used)} used, {len(layers)} blocks"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


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


def plan(
    model_dir: str | Path | None = None,
    gpus: int = 1,
    gpu_memory: str | int = "80GiB",
    quantization: str = "none",
    dtype: str = "auto",
    batch_tokens: int = 16384,
    config=None,
    model=None,
) -> Plan:
    """Place one replica on as few GPUs as possible; as many replicas as `gpus` allow.

    `config` (a transformers config) replaces reading `model_dir`; `model`, a module tree
    already built on the meta device, replaces building one from the config.
    """
    from transformers import AutoConfig

    if quantization not in QUANTIZATIONS:
        raise PlanError(f"quantization must be one of {QUANTIZATIONS}, not {quantization!r}")
    if config is None:
        problem = model_dir_problem(model_dir)
        if problem:
            raise PlanError(f"{problem} (the planner reads only that file)")
        config = AutoConfig.from_pretrained(
            str(model_dir), local_files_only=True, trust_remote_code=False
        )
    if dtype == "auto":
        configured = str(getattr(config, "dtype", None) or getattr(config, "torch_dtype", ""))
        dtype = "bfloat16" if "bfloat16" in configured else "float16"
    if dtype not in DTYPE_BYTES:
        raise PlanError(f"dtype must be auto or one of {sorted(DTYPE_BYTES)}, not {dtype!r}")
    dtype_bytes = DTYPE_BYTES[dtype]
    gpu_bytes = parse_bytes(gpu_memory)

    if model is None:
        model = _meta_model(config)
    sizes, kept, quantized = weight_bytes_of(model, quantization, dtype_bytes)
    blocks = blocks_of(model, sizes)

    text = getattr(config, "text_config", None) or config
    layers = text.num_hidden_layers
    kv_heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    kv_per_token_layer = 2 * kv_heads * head_dim * dtype_bytes  # K and V, compute dtype
    layer_names = [b.name for b in blocks if re.search(r"\.\d+$", b.name)]
    if len(layer_names) != layers:
        raise PlanError(f"found {len(layer_names)} decoder layers, config says {layers}")
    for b in blocks:
        if b.name in layer_names:
            b.kv_bytes = kv_per_token_layer * batch_tokens

    # Activations of one forward pass over the batch: the widest layer's hidden states.
    intermediate = getattr(text, "intermediate_size", 4 * text.hidden_size)
    activations = batch_tokens * (2 * intermediate + text.hidden_size) * dtype_bytes
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
    return Plan(
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
        per_gpu_bytes=[u + reserve for u in used],
        kv_tokens=batch_tokens + free // (kv_per_token_layer * layers),
        device_map={b.name: i for i, group in enumerate(placed) for b in group},
        max_memory={i: budget for i in range(per_replica)},
        blocks=blocks,
    )
