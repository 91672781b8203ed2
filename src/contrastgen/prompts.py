"""Prompts for the generator and the parser of its answers.

The format is one candidate per line, `POSITIVE: ...` or `NEGATIVE: ...`. Small models
follow a format far better from worked examples given as earlier chat turns than from a
description, and the answer is pre-filled with its first tag, so the very first token
the model writes is already candidate text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

# Part of the generation cache key (with the text itself, see fingerprint()).
PROMPT_VERSION = "v3"

SYSTEM = (
    "You rewrite drone navigation instructions. A POSITIVE says the same thing in other "
    "words and keeps every direction, clock position, landmark, color and number. A "
    "NEGATIVE looks almost the same but changes exactly one direction, clock position, "
    "color, number or landmark."
)

# Worked examples: chatty, misspelled, multi-step, like real answers. Every positive keeps
# every fact (only the chatter and the wording change); every negative swaps one fact.
FEW_SHOT: list[tuple[str, list[str], list[str]]] = [
    (
        "Yes, go foward and turn to your 2 o'clock, the goal is the big grey building next "
        "to the road.",
        [
            "Fly forward and turn to your 2 o'clock; the destination is the big gray building "
            "next to the road.",
            "Go ahead, then turn toward 2 o'clock. The target is the big grey building beside "
            "the road.",
        ],
        [
            "Yes, go foward and turn to your 10 o'clock, the goal is the big grey building "
            "next to the road."
        ],
    ),
    (
        "Hi drone, head north for 100 m then land on the third red house on your left.",
        [
            "Fly north for 100 m, then land on the third red house on your left.",
            "Head north 100 m and land on the third red home to your left.",
        ],
        ["Hi drone, head south for 100 m then land on the third red house on your left."],
    ),
    (
        "Turn to your 3 o'clock and go to the two white trucks.",
        [
            "Face your 3 o'clock and fly to the two white trucks.",
            "Turn toward 3 o'clock and head to the two white trucks.",
        ],
        ["Turn to your 3 o'clock and go to the two black trucks."],
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
    """Identifies the prompt (version, system text, few-shot turns) for the per-item cache."""
    return hashlib.sha256(
        json.dumps([PROMPT_VERSION, SYSTEM, FEW_SHOT], ensure_ascii=False).encode()
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
    messages = build_messages(instruction, feedback)
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:  # base models: a plain transcript in the same shape
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
    return text + prefill


def parse_output(raw: str, prefill: str) -> tuple[list[ParsedCandidate], list[str]]:
    """Candidates from the model's answer, and the lines that were not candidates.

    The pre-filled tag is put back in front, so the first line parses like the others.
    """
    candidates: list[ParsedCandidate] = []
    junk: list[str] = []
    for line in (prefill + raw).splitlines():
        if not line.strip():
            continue
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
    return candidates, junk


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
