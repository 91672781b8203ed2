"""Checks of config.yaml across keys and files, where the JSON schema (one value at a
time) cannot see the problem. Each problem names its key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


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


def config_problems(config: dict[str, Any]) -> Iterator[str]:
    """Values that pass the schema one by one but cannot work together."""
    ingest = config["ingest"]
    if ingest["min_words"] > ingest["max_words"]:
        yield (
            f"ingest.min_words ({ingest['min_words']}) is larger than ingest.max_words "
            f"({ingest['max_words']}): every record would be rejected"
        )
    t = config["validator"]["thresholds"]
    if t["negative_min_similarity"] >= t["negative_max_similarity"]:
        yield (
            f"validator.thresholds.negative_min_similarity ({t['negative_min_similarity']}) "
            f"must be below negative_max_similarity ({t['negative_max_similarity']}): "
            "no negative could pass"
        )
    targets = config["targets"]
    if targets["positives"] == 0 and targets["negatives"] == 0:
        yield "targets.positives and targets.negatives are both 0: nothing to generate"
    generation = config["generation"]
    if generation["max_new_tokens"] >= generation["token_budget"]:
        yield (
            f"generation.token_budget ({generation['token_budget']}) must exceed "
            f"generation.max_new_tokens ({generation['max_new_tokens']}) plus a prompt"
        )
