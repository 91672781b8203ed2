"""Prompts for the generator and the parser of its answers.

The format is one candidate per line, `POSITIVE: ...` or `NEGATIVE: ...`. Small models
follow a format far better from worked examples given as earlier chat turns than from a
description, and the answer is pre-filled with its first tag, so the very first token
the model writes is already candidate text.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import cache

from . import spatial

# Part of the generation cache key (with the text itself, see fingerprint()).
PROMPT_VERSION = "v4"

SYSTEM = (
    "You rewrite drone navigation instructions. A POSITIVE says the same thing in other "
    "words and keeps every direction, clock position, landmark, color and number. A "
    "NEGATIVE looks almost the same but changes exactly one direction, clock position, "
    "color, number or landmark."
)

# Worked examples in the shape of real AVDN answers: chatty openers, typos, two sentences,
# a clock position or compass direction, a landmark with a color or relation. Every
# positive keeps every fact (only the chatter and the wording change); every negative
# swaps exactly one (a clock hour, a compass direction, a color).
FEW_SHOT: list[tuple[str, list[str], list[str]]] = [
    (
        "ok, turn to your 4 o'clock and go straight. you will see a parking lot, the "
        "destination is the building on the left side of it.",
        [
            "Turn to your 4 o'clock and fly straight ahead. You will see a parking lot; the "
            "destination is the building on the left side of it.",
            "Face your 4 o'clock and keep going straight until the parking lot. The goal is "
            "the building to the left of it.",
        ],
        [
            "ok, turn to your 8 o'clock and go straight. you will see a parking lot, the "
            "destination is the building on the left side of it."
        ],
    ),
    (
        "Hello, you are going the wrong way. Go back and head south east, the goal is a "
        "small white house near the trees.",
        [
            "You are going the wrong way. Go back and fly southeast; the goal is a small "
            "white house near the trees.",
            "Wrong way: go back and head south-east. The destination is the small white home "
            "close to the trees.",
        ],
        [
            "Hello, you are going the wrong way. Go back and head north east, the goal is a "
            "small white house near the trees."
        ],
    ),
    (
        "yes thats it, the destination is at your 10 oclock, the big building with a red roof.",
        [
            "Yes, that's it: the destination is at your 10 o'clock, the big building with the "
            "red roof.",
            "That is the one. The goal is at your 10 o'clock, a large building with a red roof.",
        ],
        ["yes thats it, the destination is at your 10 oclock, the big building with a blue roof."],
    ),
]

_TAG = re.compile(
    r"^\s*(?:[-*•]\s*|\d+[.)]\s*)?\**(positive|negative|pos|neg)\s*(?:\d+|#\d+)?\s*\**\s*[:\-–]\s*(.*)$",
    re.IGNORECASE,
)


@dataclass
class ParsedCandidate:
    text: str
    kind: str  # "positive" | "negative"


def fingerprint() -> str:
    """Identifies the prompt (version, system text, few-shot turns, answer budget) for the
    per-item cache."""
    return hashlib.sha256(
        json.dumps(
            [PROMPT_VERSION, SYSTEM, FEW_SHOT, ANSWER_LINES, TOKENS_PER_WORD, TOKENS_PER_LINE],
            ensure_ascii=False,
        ).encode()
    ).hexdigest()[:16]


def answer_block(positives: list[str], negatives: list[str]) -> str:
    lines = [f"POSITIVE: {p}" for p in positives] + [f"NEGATIVE: {n}" for n in negatives]
    return "\n".join(lines)


def build_messages(instruction: str, feedback: list[str] | None = None) -> list[dict[str, str]]:
    """Chat messages for one instruction; `feedback` lines come from earlier rounds.

    The feedback is a system turn of its own between the few-shot turns and the
    instruction: the last user turn keeps the exact shape of the few-shot turns (the bare
    instruction), which small models need to keep the format, and everything before the
    notes stays the same for every prompt, so the engine's prefix cache covers it. On 40
    bundled instructions this placement completed 23 after one refine round, notes at the
    top of the system message 20, notes in the user turn 15.
    """
    messages = [{"role": "system", "content": SYSTEM}]
    for original, positives, negatives in FEW_SHOT:
        messages.append({"role": "user", "content": original})
        messages.append({"role": "assistant", "content": answer_block(positives, negatives)})
    if feedback:
        notes = "\n".join(f"- {line}" for line in feedback)
        messages.append({"role": "system", "content": f"Notes on your last answer:\n{notes}"})
    messages.append({"role": "user", "content": instruction})
    return messages


def first_tag(need_positives: int, need_negatives: int) -> str:
    """The tag the answer is pre-filled with: the first kind still missing."""
    return "POSITIVE:" if need_positives > 0 or need_negatives == 0 else "NEGATIVE:"


def render_prompt(tokenizer, instruction: str, feedback: list[str] | None, prefill: str) -> str:
    """The full prompt text: chat template plus the pre-filled first tag."""
    from .engines.base import render_chat

    return render_chat(tokenizer, build_messages(instruction, feedback), prefill)


# Room for an answer: its lines (the few-shot answers' shape, POSITIVE POSITIVE NEGATIVE),
# each about as long as the instruction plus its tag. The embedded tokenizer writes ~1.3
# tokens per word of these answers (1.7 on the shortest); 1.5 leaves room for rewording.
ANSWER_LINES = 3
TOKENS_PER_WORD = 1.5
TOKENS_PER_LINE = 8  # the tag, the newline, slack


def answer_token_budget(instruction: str, cap: int) -> int:
    """New tokens one answer needs for its lines, rounded up to 32 (few distinct budgets,
    so few generate calls), at most `cap` (generation.max_new_tokens)."""
    words = len(instruction.split())
    need = ANSWER_LINES * (math.ceil(TOKENS_PER_WORD * words) + TOKENS_PER_LINE)
    return min(cap, 32 * math.ceil(need / 32))


def parse_output(
    raw: str, prefill: str, finished: bool = True
) -> tuple[list[ParsedCandidate], list[str], str | None]:
    """Candidates from the model's answer, the lines that were not candidates, and the
    line that was cut off (None when the answer `finished` at its end-of-turn token).

    The pre-filled tag is put back in front, so the first line parses like the others.
    An answer that ran out of new tokens ends mid-sentence: its last line is never judged.
    """
    candidates: list[ParsedCandidate] = []
    junk: list[str] = []
    lines = [line for line in (prefill + raw).splitlines() if line.strip()]
    cut = None
    if not finished and lines:
        cut = lines.pop().strip()
    for line in lines:
        m = _TAG.match(line)
        if not m:
            junk.append(line.strip())
            continue
        kind = "positive" if m.group(1).lower().startswith("pos") else "negative"
        text = m.group(2).strip().strip('"').strip()
        if text:
            candidates.append(ParsedCandidate(text, kind))
        else:
            junk.append(line.strip())
    return candidates, junk, cut


def describe_reason(reason: dict, kind: str) -> str:
    """One validator reason in plain words, for the next round's prompt."""
    code = reason["code"]
    family, _, what = code.rpartition("_")
    label = {"clock": "clock position", "cardinal": "compass direction"}.get(family, family)

    def show(value):
        return f"{value} o'clock" if family == "clock" else str(value)

    if kind == "positive":
        if what == "changed":
            return (
                f"your positive changed {show(reason['from'])} to {show(reason['to'])}; "
                f"keep {show(reason['from'])}"
            )
        if what == "dropped":
            return f"your positive left out the {label} '{show(reason['value'])}'; keep it"
        if what == "added":
            return f"your positive added the {label} '{show(reason['value'])}'; do not add facts"
    fixed = {
        "identical": f"your {kind} was a copy of the instruction; use other words",
        "no_spatial_change": (
            "your negative changed nothing spatial; change a direction, a clock position, "
            "a color or a landmark"
        ),
        "only_dropped": (
            "your negative only left something out; replace one direction, clock position, "
            "color or landmark with a different one instead"
        ),
        "off_topic": f"your {kind} was not about the same route; stay close to the instruction",
        "too_different": "your negative changed too much; change exactly one fact",
        "meta_text": f"your {kind} talked about the task; write only the instruction",
        "duplicate": f"your {kind} repeated an earlier one; write a new one",
    }
    return fixed.get(code, f"your {kind} was rejected ({code})")


# ---------------------------------------------------------------- few-shot leak

_WORD = re.compile(r"[a-z0-9']+")
# Words that name a spatial fact: a copied phrase holding one moves a fact of the few-shot
# example ("the two black trucks", "100 m") into another instruction.
_FACT_WORDS = (
    set(spatial.COLORS)
    | set(spatial.NUMBER_WORDS)
    | set(spatial.ORDINALS)
    | {"north", "south", "east", "west", "m", "meters", "metres"}
    | {w for forms in spatial.LANDMARKS.values() for f in forms for w in f.split()}
)


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


@cache
def _few_shot_trigrams() -> frozenset[tuple[str, ...]]:
    grams: set[tuple[str, ...]] = set()
    for original, positives, negatives in FEW_SHOT:
        for text in (original, *positives, *negatives):
            grams |= {g for g in _trigrams(text) if any(w in _FACT_WORDS or w.isdigit() for w in g)}
    return frozenset(grams)


def few_shot_leak(instruction: str, candidate: str) -> bool:
    """Whether the candidate copies a fact-bearing word trigram of the few-shot turns that
    its instruction does not have (the small model's commonest off-topic failure)."""
    return bool((_trigrams(candidate) & _few_shot_trigrams()) - _trigrams(instruction))
