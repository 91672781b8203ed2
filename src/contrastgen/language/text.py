"""Text as the rest of the package compares it: normalised, then as lower-case words."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\ufeff]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-"})


def normalise(text: str) -> str:
    """NFKC, straight quotes, no control or zero-width characters, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def _comparable(text: str) -> str:
    return re.sub(r"[^a-z0-9' ]", "", normalise(text).lower()).strip()


def comparable_words(text: str) -> list[str]:
    """The words the text comparisons count: lower case, no punctuation."""
    return _comparable(text).split()


def same_text(a: str, b: str) -> bool:
    """Equal but for case, spacing and punctuation (the validator's `identical`)."""
    return _comparable(a) == _comparable(b)


def word_edits(a: str, b: str) -> int:
    """Word-level edit distance (insertions, deletions, substitutions) of two texts."""
    x, y = comparable_words(a), comparable_words(b)
    row = list(range(len(y) + 1))
    for i, wx in enumerate(x, 1):
        prev, row[0] = row[0], i
        for j, wy in enumerate(y, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (wx != wy))
    return row[-1]
