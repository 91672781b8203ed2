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

from contrastgen.generation import Request, stop_marks
from contrastgen.language import dialogue, spatial

# Part of the generation cache key (with the text itself, see fingerprint()).
PROMPT_VERSION = "v5"

SYSTEM = (
    "You rewrite a guide's answers to a drone. A POSITIVE says exactly the same thing in "
    "other words: it keeps the yes or no, right or wrong way, what is in view, every "
    "direction, clock position, landmark, color and number, and adds nothing. A NEGATIVE "
    "looks almost the same but changes exactly one of them."
)

# Worked examples in the shape of real AVDN answers (chatty openers, typos, two
# sentences, a clock position or compass direction, a landmark with a color, count or
# relation). Every clause of every turn names this example's own landmarks, so no
# sentence of a turn can be copied into another answer without carrying a fact that
# answer lacks (the validator rejects such a copy as `few_shot_copy`). The positives
# reword with the synonyms the content check knows (content.SYNONYMS) and reorder
# clauses; each negative changes one fact.
FewShot = tuple[str, list[str], list[str]]
FEW_SHOT: list[FewShot] = [
    (
        "turn to your 4 o'clock and go straight. you will see a gas station, the "
        "destination is the building on the left side of it.",
        [
            "Face your four o'clock and fly straight. You will spot a gas station; the goal "
            "is the structure on the left side of it.",
            "Turn to your 4 o'clock and go straight: you will see a gas station. The building "
            "on the left side of the gas station is the destination.",
        ],
        [
            "turn to your 8 o'clock and go straight. you will see a gas station, the "
            "destination is the building on the left side of it."
        ],
    ),
    (
        "Hi drone, head south east over the river, the goal is a small white house with "
        "solar panels next to the trees.",
        [
            "Fly south-east over the river. The destination is a little white home with "
            "solar panels beside the trees.",
            "The goal is a small white house with solar panels next to the trees; head "
            "southeast over the river.",
        ],
        [
            "Hi drone, head north east over the river, the goal is a small white house with "
            "solar panels next to the trees."
        ],
    ),
    (
        "go foward till the second crossroad and turn left, its the grey warehouse with "
        "three trucks in front.",
        [
            "Fly forward until the 2nd junction and turn left. It is the gray warehouse with "
            "3 trucks in front.",
            "Move ahead until the second crossroads and turn left; it's the grey warehouse "
            "that has three lorries in front.",
        ],
        [
            "go foward till the second crossroad and turn right, its the grey warehouse "
            "with three trucks in front."
        ],
    ),
]

# One more worked example after the shared ones, for an answer that says yes, no, wrong
# way, right way or not in view: it shows that act kept in both positives, fused with
# this example's own landmarks. Answers without such an act get none, so the turns they
# see carry no act a small model could copy into them.
ACT_SHOTS: dict[str, FewShot] = {
    "no": (
        "no, that is not it. turn to your 7 o'clock, the goal is the long shed with a blue roof.",
        [
            "No, that is not the one. Face your seven o'clock; the destination is the long "
            "hut with a blue roof.",
            "No, not that one. The target is the long shed with a blue roof at your 7 "
            "o'clock; turn to it.",
        ],
        [
            "no, that is not it. turn to your 10 o'clock, the goal is the long shed with a "
            "blue roof."
        ],
    ),
    "yes": (
        "yes, you can see it now. the destination is the round tank at your 1 o'clock, "
        "beside the red barn.",
        [
            "Yes, it is in your view now. The goal is the round silo at your one o'clock, "
            "next to the red barn.",
            "Yes, you can see it now: at your 1 o'clock, the destination is the round tank "
            "beside the red barn.",
        ],
        [
            "yes, you can see it now. the destination is the round tank at your 1 o'clock, "
            "beside the blue barn."
        ],
    ),
    "wrong way": (
        "you are going the wrong way, turn around and fly back to the white tower near the bridge.",
        [
            "You are heading the wrong way: turn around and go back to the white tower "
            "close to the bridge.",
            "You are going in the wrong direction. Turn around and fly back to the white "
            "tower near the bridge.",
        ],
        [
            "you are going the wrong way, turn around and fly back to the white tower under "
            "the bridge."
        ],
    ),
    "right way": (
        "you are on the right track, keep going and land on the flat roof of the third house.",
        [
            "You are going the right way; continue and land on the flat roof of the 3rd house.",
            "You are on the right track. Keep flying and land on the flat roof of the third home.",
        ],
        ["you are on the right track, keep going and land on the flat roof of the fourth house."],
    ),
    "not in view": (
        "it is not in your view yet. go ahead past the pond and look for a yellow building.",
        [
            "It is not in sight yet. Fly forward past the lake and look for a yellow structure.",
            "It is not in your view yet: go straight past the pond and check for a yellow "
            "building.",
        ],
        ["it is not in your view yet. go ahead past the pond and look for a green building."],
    ),
}


def act_shot(instruction: str) -> FewShot | None:
    """The act-matched worked example for `instruction`, or None (see ACT_SHOTS)."""
    acts = dialogue.extract(instruction).values
    for act, value in (
        ("polarity", "no"),
        ("polarity", "yes"),
        ("progress", "wrong way"),
        ("progress", "right way"),
        ("progress", "close"),
        ("visibility", "not in view"),
    ):
        if value in acts[act]:
            return ACT_SHOTS["right way" if value == "close" else value]
    return None


def few_shot_turns(instruction: str) -> list[FewShot]:
    """The worked examples one instruction's prompt shows: the shared ones, then its act's."""
    extra = act_shot(instruction)
    return FEW_SHOT + ([extra] if extra else [])


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
            [
                PROMPT_VERSION,
                SYSTEM,
                FEW_SHOT,
                ACT_SHOTS,
                ANSWER_LINES,
                TOKENS_PER_WORD,
                TOKENS_PER_LINE,
            ],
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
    notes stays the same for every prompt, so the engine's prefix cache covers it (it
    also completed the most items after one refine round: docs/ARCHITECTURE.md).
    """
    messages = [{"role": "system", "content": SYSTEM}]
    for original, positives, negatives in few_shot_turns(instruction):
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


def item_request(
    instruction: str, feedback: list[str], prefill: str, stop_tag: str | None, cap: int
) -> Request:
    """The request of one item, as a generation job sends it: its messages, the answer
    pre-filled with `prefill`, room for the answer's lines from the instruction's length
    (long instructions are not cut off, and a batch of short ones stops early; at most
    `cap`), and its rows ending at a blank line or at `stop_tag`'s line."""
    return Request(
        tuple(build_messages(instruction, feedback)),
        prefill,
        answer_token_budget(instruction, cap),
        stop_marks(stop_tag),
    )


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
    for original, positives, negatives in [*FEW_SHOT, *ACT_SHOTS.values()]:
        for text in (original, *positives, *negatives):
            grams |= {g for g in _trigrams(text) if any(w in _FACT_WORDS or w.isdigit() for w in g)}
    return frozenset(grams)


def few_shot_leak(instruction: str, candidate: str) -> bool:
    """Whether the candidate copies a fact-bearing word trigram of the few-shot turns that
    its instruction does not have (the small model's commonest off-topic failure)."""
    return bool((_trigrams(candidate) & _few_shot_trigrams()) - _trigrams(instruction))


_CLAUSE = re.compile(r"[^.,;:!?]+")


def _clauses(text: str) -> list[str]:
    """A text's clauses as words joined by one space, those of three words or more once
    the dialogue-act phrases are blanked: an act example's "you are on the right track"
    is shown only to answers that say it, so a copy of it adds nothing."""
    out = []
    for part in _CLAUSE.findall(dialogue.without_acts(text)):
        words = _WORD.findall(part)
        if len(words) >= 3:
            out.append(" ".join(words))
    return out


@cache
def _few_shot_clauses() -> frozenset[str]:
    return frozenset(
        c
        for original, positives, negatives in [*FEW_SHOT, *ACT_SHOTS.values()]
        for text in (original, *positives, *negatives)
        for c in _clauses(text)
    )


def few_shot_copy(instruction: str, candidate: str) -> str | None:
    """A clause of a few-shot turn that the candidate carries and the instruction does
    not (the clause), or None. A small model copies whole clauses of its worked examples
    ("you are going the wrong way") into answers that never said them."""
    from contrastgen.language import content

    said = " ".join(_WORD.findall(instruction.lower().replace("\u2019", "'")))
    text = " " + " ".join(_WORD.findall(candidate.lower().replace("\u2019", "'"))) + " "
    known = set(content.concepts(instruction))
    for clause in sorted(_few_shot_clauses(), key=len, reverse=True):
        # a clause that brings at most one new word ("turn to your 10 o'clock" in a
        # negative that moved the clock) is the answer's own; a copy brings several
        if f" {clause} " in text and clause not in said:
            if len(set(content.concepts(clause)) - known) >= 2:
                return clause
    return None
