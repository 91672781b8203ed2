"""Rule-based positives: rewordings of the original that are faithful by construction.

Each edit keeps every fact and every content word and only changes how they are said:
clock spellings ("7'o clock" -> "seven o'clock"), swaps from a curated synonym table
(destination / goal, go / fly, till / until, typos fixed), greetings and fillers
dropped ("Hi drone,", "ok"), "the destination is X" <-> "X is the destination", two
independent sentences reordered. The variants are candidates like any other (`origin:
rule`, the edits in `edit`); the validator still decides them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from contrastgen.language import content, dialogue, spatial

_NUMBER_WORDS = {v: k for k, v in spatial.NUMBER_WORDS.items()}

# Word swaps that never change what an answer says, in both directions where both are
# natural; each pair is also a synonym of content.SYNONYMS or the spatial lexicon, so the
# content check reads them as the same word.
_SWAPS: dict[str, list[str]] = {
    "destination": ["goal", "target"],
    "goal": ["destination", "target"],
    "target": ["destination", "goal"],
    "building": ["structure"],
    "buildings": ["structures"],
    "go": ["fly", "head"],
    "fly": ["go", "head"],
    "head": ["fly", "go"],
    "move": ["fly", "go"],
    "till": ["until"],
    "untill": ["until"],
    "until": ["till"],
    "foward": ["forward"],
    "forword": ["forward"],
    "big": ["large"],
    "large": ["big"],
    "small": ["little"],
    "beside": ["next to"],
    "near": ["close to"],
    "grey": ["gray"],
    "gray": ["grey"],
    "thats": ["that's"],
    "cant": ["can't"],
    "dont": ["don't"],
    "car park": ["parking lot"],
    "parking lot": ["car park"],
    "crossroad": ["intersection"],
    "intersection": ["junction"],
    "keep going": ["continue"],
    "continue": ["keep going"],
    "home": ["house"],
    "houses": ["homes"],
}
_SWAP_RE = re.compile(
    r"\b(" + "|".join(re.escape(w) for w in sorted(_SWAPS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
# Verbs swapped only where they give an order ("go straight", "and head north"), not in
# "you will go past" or "a house to go to" where a swap may read oddly.
_VERBS = {"go", "fly", "head", "move"}
_ORDER_BEFORE = re.compile(r"(?:^|[.!?;,:]\s*|\b(?:and|then|please|now|ok|okay)\s+)$", re.I)

_FILLER = re.compile(
    r"^\s*(?:(?:hi|hello|hey)(?:\s+(?:there|drone))?|ok(?:ay)?|alright|so|well|please)"
    r"\s*[,!.]*\s*",
    re.IGNORECASE,
)
_DEST_FIRST = re.compile(
    r"^(?P<lead>\s*)(?P<det>the|your|our)\s+(?P<noun>destination|goal|target)\s+is\s+"
    r"(?P<x>(?:the|a|an)\s+[^.;!?]+?)\s*(?P<end>[.;!?]*)$",
    re.IGNORECASE,
)
_DEST_LAST = re.compile(
    r"^(?P<lead>\s*)(?P<x>(?:the|a|an)\s+[^.;!?]+?)\s+is\s+(?P<det>the|your|our)\s+"
    r"(?P<noun>destination|goal|target)\s*(?P<end>[.;!?]*)$",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?]+[.!?]*\s*")
# A sentence that points back or forward in the route cannot move.
_ORDERED = re.compile(
    r"\b(?:then|after|before|again|once|until|till|untill|next|first|there|that|it|its|it's"
    r"|this|keep|continue|now|when|from here)\b",
    re.IGNORECASE,
)


_MOTION = re.compile(
    r"\b(?:go|fly|head|move|turn|pass|cross|follow|keep|continue|land|stop|proceed)\b", re.I
)


def _match_case(old: str, new: str) -> str:
    return new[:1].upper() + new[1:] if old[:1].isupper() else new


def _lower(phrase: str) -> str:
    """A phrase moved into the middle of a sentence: its leading article lower-cased."""
    head, _, rest = phrase.partition(" ")
    return f"{head.lower()} {rest}" if head.lower() in ("the", "a", "an") else phrase


def _capitalise(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:]


def clock_spelling(text: str, rng: random.Random) -> str | None:
    """Every clock position in the other spelling: 7 <-> seven, as "N o'clock"."""
    changed = False

    def spell(m: re.Match[str]) -> str:
        nonlocal changed
        hour = spatial.clock_hour(m)
        if not 1 <= hour <= 12:
            return m.group(0)
        token = m.group("h") or m.group("h2") or m.group("h3")
        new = _NUMBER_WORDS[hour] if token.isdigit() else str(hour)
        changed = True
        return f"{new} o'clock"

    out = _H2_CLOCK_WORD.sub(r"\g<time>", text)  # "3:00 o clock": the clock word once
    out = spatial.CLOCK.sub(spell, out)
    return out if changed else None


# A "3:00" followed by a clock word of its own ("3:00 o clock", "3:00 hours"): the
# respelling writes "o'clock" itself, so that word goes.
_H2_CLOCK_WORD = re.compile(
    r"\b(?P<time>\d{1,2}:00)\s+(?:o\s*'?\s*clock|oclock|clock|hours?|hrs?)\b", re.IGNORECASE
)


def swap_synonyms(text: str, rng: random.Random) -> str | None:
    """Each word of the swap table replaced by an equivalent (verbs only as orders)."""
    changed = False

    def swap(m: re.Match[str]) -> str:
        nonlocal changed
        word = m.group(1)
        lower = word.lower()
        if lower in _VERBS and not _ORDER_BEFORE.search(text[: m.start()]):
            return word
        if lower == "near" and not re.match(r"\s+(?:the|a|an|your|it|some)\b", text[m.end() :]):
            return word  # "you are near." is not "you are close to."
        changed = True
        return _match_case(word, rng.choice(_SWAPS[lower]))

    out = _SWAP_RE.sub(swap, text)
    return out if changed else None


def drop_filler(text: str, rng: random.Random) -> str | None:
    """Greetings and fillers in front of a sentence ("Hi drone,", "ok", "please")."""
    out = " ".join(_FILLER.sub("", s) or s for s in _SENTENCE.findall(text))
    out = " ".join(out.split())
    if not out or out == " ".join(text.split()):
        return None
    return ". ".join(_capitalise(p) for p in out.split(". ")) if out else None


def swap_destination(text: str, rng: random.Random) -> str | None:
    """'the destination is X' <-> 'X is the destination', in one clause of its own."""
    parts = re.split(r"(?<=[.;!?,])\s+", text.strip())
    for i, part in enumerate(parts):
        for pattern, build in (
            (_DEST_FIRST, lambda m: f"{m['x']} is {m['det'].lower()} {m['noun'].lower()}"),
            (_DEST_LAST, lambda m: f"{m['det'].lower()} {m['noun'].lower()} is {_lower(m['x'])}"),
        ):
            m = pattern.match(part.rstrip(","))
            if m and not dialogue.extract(m["x"]).values["mood"]:
                comma = "," if part.endswith(",") else ""
                new = build(m) + m["end"] + comma
                parts[i] = _capitalise(new) if i == 0 or parts[i - 1][-1:] in ".!?" else new
                return " ".join(parts)
    return None


def reorder_sentences(text: str, rng: random.Random) -> str | None:
    """Two independent sentences swapped: neither points along the route (then, after,
    it, there...) nor carries a dialogue act (a yes or no stays in front)."""
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    if len(sentences) != 2:
        return None
    for s in sentences:
        acts = dialogue.extract(s).values
        if _ORDERED.search(s) or any(acts[a] for a in dialogue.ACTS if a not in ("mood",)):
            return None
    if sum(bool(_MOTION.search(s)) for s in sentences) > 1:
        return None  # two steps of the route: their order is a fact
    if not sentences[-1].endswith((".", "!", "?")):
        return None  # "Turn left. go on" would read "Go on Turn left."
    return " ".join(_capitalise(s) for s in reversed(sentences))


EDITS: list[tuple[str, Callable[[str, random.Random], str | None]]] = [
    ("drop_filler", drop_filler),
    ("clock_spelling", clock_spelling),
    ("swap_destination", swap_destination),
    ("reorder_sentences", reorder_sentences),
    ("swap_synonyms", swap_synonyms),
]


def rule_based_positives(instruction: str, limit: int, seed: str) -> list[tuple[str, str]]:
    """Up to `limit` distinct (edits, positive text) pairs, `edits` naming the edits
    applied in order ("drop_filler+swap_synonyms"); the one with the most edits first.

    Variants chain the applicable edits: all of them, then all but one in turn, so the
    positives differ from each other too. Seeded by the item, so reruns agree.
    """
    rng = random.Random(seed)
    applicable = [(n, e) for n, e in EDITS if e(instruction, random.Random(seed)) is not None]
    chains = [applicable] + [
        [pair for pair in applicable if pair[0] != skip] for skip, _ in applicable
    ]
    out: list[tuple[str, str]] = []
    seen = {_key(instruction)}
    for chain in chains:
        if len(out) >= limit or not chain:
            break
        text, names = instruction, []
        for name, edit in chain:
            new = edit(text, rng)
            if new is not None and content.doubled_words(new) <= content.doubled_words(text):
                text, names = new, [*names, name]
        if names and _key(text) not in seen:
            seen.add(_key(text))
            out.append(("+".join(names), _capitalise(text)))
    return out


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9' ]", "", text.lower()).strip()
