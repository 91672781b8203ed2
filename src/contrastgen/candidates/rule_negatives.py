"""Rule-based hard negatives: the original with exactly one spatial fact edited.

Each edit works on the original's own words (so the negative reads like the original):
flip left/right, move a clock hour by 3-6 hours, swap a compass direction, swap a color,
swap a landmark for a non-synonym, change a count, flip the answer's yes / no, its
right / wrong way or what is in view. The results are candidates like any
other: the validator decides them, and their `origin` is "rule".
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from contrastgen.language import dialogue, spatial

_FLIP = {"left": "right", "right": "left"}
_CARDINAL_FLIP = {"north": "south", "south": "north", "east": "west", "west": "east"}
_COLOR_SWAP = ["red", "blue", "green", "white", "black", "yellow", "orange", "brown"]
_LANDMARK_SWAP = ["house", "truck", "tower", "field", "pool", "tree", "car", "shed", "road"]
_NUMBER_WORDS = {v: k for k, v in spatial.NUMBER_WORDS.items()}


def _replace(text: str, start: int, end: int, new: str) -> str:
    old = text[start:end]
    if old[:1].isupper():
        new = new[:1].upper() + new[1:]
    return text[:start] + new + text[end:]


def _idiom_spans(lowered: str) -> list[tuple[int, int]]:
    return [m.span() for m in spatial.NOT_SPATIAL.finditer(lowered)]


def flip_direction(text: str, rng: random.Random) -> str | None:
    lowered = text.lower()
    idioms = _idiom_spans(lowered)
    for m in re.finditer(r"\b(left|right)\b", lowered):
        if not any(a <= m.start() < b for a, b in idioms):
            return _replace(text, *m.span(), _FLIP[m.group(1)])
    return None


def move_clock(text: str, rng: random.Random) -> str | None:
    m = spatial.CLOCK.search(text.lower())
    if not m:
        return None
    group = next(g for g in ("h", "h2", "h3") if m.group(g))
    token = m.group(group)
    hour = int(token) if token.isdigit() else spatial.NUMBER_WORDS.get(token, 0)
    if not 1 <= hour <= 12:
        return None
    new_hour = (hour - 1 + rng.choice([3, 4, 5, 6])) % 12 + 1
    new = str(new_hour) if token.isdigit() else _NUMBER_WORDS[new_hour]
    return _replace(text, *m.span(group), new)


def swap_cardinal(text: str, rng: random.Random) -> str | None:
    m = re.search(r"\b(north|south|east|west)", text.lower())
    if not m:
        return None
    return _replace(text, *m.span(1), _CARDINAL_FLIP[m.group(1)])


def swap_color(text: str, rng: random.Random) -> str | None:
    for m in re.finditer(r"[a-z]+", text.lower()):
        canon = spatial.COLORS.get(m.group(0))
        if canon:
            choices = [c for c in _COLOR_SWAP if c != canon]
            return _replace(text, *m.span(), rng.choice(choices))
    return None


_ROOF = re.compile(r"\broof(?:s|ed|tops?)?\b", re.IGNORECASE)


def _sentence_at(text: str, index: int) -> str:
    """The sentence (or clause between full stops) around `index`."""
    start = max(text.rfind(c, 0, index) for c in ".!?;") + 1
    ends = [i for i in (text.find(c, index) for c in ".!?;") if i != -1]
    return text[start : min(ends) if ends else len(text)]


def _landmark_swaps(canon: str) -> list[str]:
    """What a landmark may become in a hard negative: a structure only another kind of
    structure ("a brown warehouse" -> "a brown truck" makes the goal nonsense), and the
    generic "building" nothing (any structure is its kind); anything else any other."""
    if canon == "building":
        return []
    if canon in spatial.BUILDING_KINDS:
        return [w for w in _LANDMARK_SWAP if w in spatial.BUILDING_KINDS and w != canon]
    return [w for w in _LANDMARK_SWAP if w != canon]


# Words that may stand before a landmark that heads its own noun phrase; any other word
# may make it part of a compound ("a cargo ship" is no "cargo field").
_BEFORE_LANDMARK = (
    frozenset(
        "the a an this that these those some many any each every your our its their his her "
        "small big large tall long short wide narrow flat round square main tiny huge empty "
        "old new high low roofed only other same next last first".split()
    )
    | set(spatial.NUMBER_WORDS)
    | set(spatial.ORDINALS)
    | set(spatial.COLORS)
    | set(spatial.SIZES)
)


def _heads_a_phrase(lowered: str, m: re.Match[str]) -> bool:
    """Whether the landmark of `m` is a noun phrase's head: after a determiner or an
    attribute, and not before another landmark noun ("the pool house")."""
    before = re.findall(r"[a-z0-9']+", lowered[: m.start()])
    if before and before[-1] not in _BEFORE_LANDMARK and not before[-1].isdigit():
        return False
    return not spatial.LANDMARK_RE.match(lowered, m.end() + 1)


def swap_landmark(text: str, rng: random.Random) -> str | None:
    """The first landmark that has a swap, for another landmark of its kind."""
    lowered = text.lower()
    for m in spatial.LANDMARK_RE.finditer(lowered):
        canon = spatial.LANDMARK_CANON[m.group(1)]
        if canon == "roof" or not _heads_a_phrase(lowered, m):
            continue  # a roof is part of a landmark; "cargo ship" is one compound
        choices = _landmark_swaps(canon)
        if _ROOF.search(_sentence_at(text, m.start())):
            # "the car with a red roof" is no hard negative: a roofed thing stays one
            choices = [w for w in choices if w in spatial.BUILDING_KINDS]
        if choices:
            new = rng.choice(choices)
            plural = m.group(1).endswith("s") and m.group(1) not in ("bus", "grass")
            return _replace(text, *m.span(), new + ("s" if plural else ""))
    return None


def change_count(text: str, rng: random.Random) -> str | None:
    lowered = text.lower()
    taken = [
        m.span()
        for p in (spatial.CLOCK, spatial.ANGLE, spatial.DISTANCE)
        for m in p.finditer(lowered)
    ]
    for m in re.finditer(r"\b(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\b", lowered):
        if any(a <= m.start() < b for a, b in taken):
            continue
        token = m.group(1)
        n = int(token) if token.isdigit() else spatial.NUMBER_WORDS[token]
        new_n = n + 1
        new = str(new_n) if token.isdigit() else _NUMBER_WORDS.get(new_n, str(new_n))
        return _replace(text, *m.span(), new)
    return None


_LEADING_ANSWER = re.compile(r"^(\W*)(yes|yeah|yep|no|nope)\b", re.IGNORECASE)
_PROGRESS = re.compile(r"\b(right|correct|wrong)(\s+(?:way|direction|track|path))\b", re.I)
_IN_VIEW = re.compile(r"\byou\s+can\s+see\s+it\b|\bin\s+your\s+(?:view|sight)\b", re.I)


def flip_polarity(text: str, rng: random.Random) -> str | None:
    """The answer's leading yes for a no, or no for a yes."""
    m = _LEADING_ANSWER.match(text)
    if not m:
        return None
    acts = dialogue.extract(text[m.end() :]).values
    if any(acts[act] for act in ("polarity", "progress", "visibility", "arrival", "affirmation")):
        # "No, not that one", "Yes, you are there already": the rest says it again
        return None
    new = "no" if m.group(2).lower().startswith("y") else "yes"
    return _replace(text, *m.span(2), new)


def flip_progress(text: str, rng: random.Random) -> str | None:
    """ "the right way" for "the wrong way", and back."""
    m = _PROGRESS.search(text)
    if not m:
        return None
    if m.group(1).lower() != "wrong" and dialogue.KEEP_ON.search(text):
        return None  # "wrong direction, keep going straight" would contradict itself
    return _replace(text, *m.span(1), "right" if m.group(1).lower() == "wrong" else "wrong")


def flip_visibility(text: str, rng: random.Random) -> str | None:
    """ "you can see it" / "in your view" for "you cannot see it" / "not in your view"."""
    m = _IN_VIEW.search(text)
    if not m:
        return None
    phrase = m.group(0)
    if phrase.lower().startswith("you"):
        new = phrase[:3] + " cannot see it"
    else:
        new = "not " + phrase
    return _replace(text, *m.span(), new)


EDITS: list[tuple[str, Callable[[str, random.Random], str | None]]] = [
    ("flip_direction", flip_direction),
    ("move_clock", move_clock),
    ("swap_cardinal", swap_cardinal),
    ("swap_color", swap_color),
    ("swap_landmark", swap_landmark),
    ("change_count", change_count),
    ("flip_polarity", flip_polarity),
    ("flip_progress", flip_progress),
    ("flip_visibility", flip_visibility),
]


def rule_based_negatives(instruction: str, limit: int, seed: str) -> list[tuple[str, str]]:
    """Up to `limit` (edit name, negative text) pairs, each from a different edit.

    Seeded by the item so reruns give the same negatives.
    """
    rng = random.Random(seed)
    edits = EDITS[:]
    rng.shuffle(edits)
    out = []
    for name, edit in edits:
        if len(out) >= limit:
            break
        text = edit(instruction, rng)
        if text and text != instruction:
            out.append((name, text))
    return out
