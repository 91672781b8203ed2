"""What an answer does as a turn of the dialogue, beside its spatial facts.

An AVDN answer replies to the drone: it says yes or no (polarity), whether the drone is
going the right way (progress), whether the goal is in view (visibility), that the
drone is there (arrival), that what it sees is the goal (affirmation); and it speaks as
an instruction to "you", not as a narration ("you are turning") or in the drone's own
voice ("I'll turn"). A positive keeps every one of these; a negative may flip one.

Each act is a small set of canonical values read from patterns, compared like the
spatial families (spatial.compare), so a reason reads `polarity_dropped`,
`visibility_changed`, `mood_added`.
"""

from __future__ import annotations

import re

from contrastgen.language import lexicon
from contrastgen.language.spatial import RIGHT_AS_JUST, Features

ACTS = ("polarity", "progress", "visibility", "arrival", "affirmation", "person", "mood")

_S = r"(?:^|(?<=[.!?;:,]\s)|(?<=[.!?;:]))\s*"  # the start of a sentence or a clause

# Each entry: (act, value, pattern). Negated forms come first: a span read by one is
# blanked so that "not in your view" is not read again as "in your view".
# A word of degree before "close": "very", "so", or any -ly adverb ("really", "extremely")
_DEGREE = r"(?:(?:very|so|quite|pretty|\w+ly)\s+)?"
_YOU_MOVING = r"(?:you(?:'re|\s+are)\s+(?:going|heading|moving|flying)\s+)?(?:in\s+)?"
_PATTERNS: list[tuple[str, str, str]] = [
    ("polarity", "no", _S + r"(?:no+|nope|nah|negative)\b(?!\s+(?:need|problem|worries)\b)"),
    ("polarity", "no",
     r"\b(?:not\s+that\s+one|is\s+not\s+(?:it|the\s+one)|(?:that|this|it)(?:'s|\s+is|s)\s+not"
     r"\s+(?:it|the\s+one|(?:the|your|our)\s+(?:destination|goal|target)|correct|right))\b"),
    ("polarity", "yes", _S + r"(?:yes+|yeah|yep|yup|yea|affirmative|correct|exactly)\b"),
    ("progress", "wrong way",
     r"\b(?:" + _YOU_MOVING + r"(?:the\s+)?wrong\s+"
     r"(?:way|direction|side|path|building|one|track|course)|off\s+(?:track|course)"
     r"|not\s+(?:the\s+)?(?:right|correct)\s+(?:way|direction|path|track))\b"),
    ("progress", "too far",
     r"\b(?:(?:went|gone|flew|flown|are|is)\s+too\s+far|overshot|passed\s+it)\b"),
    ("progress", "right way",
     r"\b(?:" + _YOU_MOVING + r"(?:the\s+|this\s+)?(?:right|correct|good)\s+"
     r"(?:way|direction|path|track)|on\s+(?:track|course)|doing\s+(?:good|great|well)"
     r"|(?:good|great|nice)\s+(?:job|work)|well\s+done"
     r"|(?:in|at)\s+the\s+(?:right|correct)\s+(?:area|place|spot|location|neighbou?rhood))\b"),
    ("progress", "close",
     r"\b(?:(?:almost|just\s+about)\s+there|(?:very|so|quite|getting)\s+close|nearly\s+there"
     r"|(?:it|you)(?:'s|\s+is|\s+are|'re)\s+" + _DEGREE + r"(?:close|near)\b"
     r"(?!\s+(?:to|by)\b)"
     r"|close\s+to\s+(?:it|the\s+(?:destination|goal|target))|you(?:'re|\s+are)\s+close)\b"),
    ("visibility", "not in view",
     r"\b(?:not\s+(?:yet\s+)?(?:in|within)\s+(?:your\s+)?(?:view|sight|range)"
     r"|out\s+of\s+(?:your\s+)?(?:view|sight)"
     r"|(?:can(?:'t|not|\s+not)|cant|don'?t|do\s+not)\s+see\s+(?:it|the)"
     r"|not\s+(?:yet\s+)?visible|(?:isn'?t|is\s+not)\s+visible)\b"),
    ("visibility", "in view",
     r"\b(?:(?:in|within)\s+(?:your\s+)?(?:view|sight)|you\s+(?:can\s+)?(?:now\s+|already\s+)?see\s+it\b"
     r"|(?:is|it's)\s+visible|in\s+front\s+of\s+your\s+(?:eyes|camera))"),
    # "not there yet" and "you have not arrived yet" say one thing; read before "arrived"
    ("arrival", "not yet",
     r"\b(?:not\s+(?:yet\s+)?(?:there|at\s+the\s+(?:destination|goal|target))\s+yet"
     r"|(?:have|has)\s+not\s+(?:yet\s+)?(?:arrived|reached\s+(?:it|(?:the|your)\s+"
     r"(?:destination|goal|target)))\b(?:\s+yet)?)"),
    ("arrival", "arrived",
     r"\b(?:you(?:'re|\s+are)\s+(?:there|here|at\s+(?:the|your)\s+(?:destination|goal|target))"
     r"|(?:you\s+have|you've)\s+(?:arrived|reached\s+(?:it|(?:the|your)\s+(?:destination|goal|target)))"
     r"|you(?:'ve|\s+have)?\s+made\s+it|arrived)\b"),
    ("affirmation", "that is it",
     # "it's the one with the flat roof" names which one; it affirms nothing
     r"\b(?:(?:that|this|it)(?:'s|\s+is|s)\s+(?:it|the\s+one(?!\s+(?:with|that|which|on|in|at"
     r"|near|next|beside|behind|by|to|from|of|closest|nearest)\b)|correct"
     r"|right(?!\s+(?:" + RIGHT_AS_JUST + r")\b))\b"
     r"|there\s+it\s+is|you\s+found\s+it|you(?:'ve|\s+have)?\s+got\s+it(?:\s+right)?|that\s+one\s+is\s+it"
     r"|you(?:'re|\s+are)\s+(?:right|correct)\b(?!\s+(?:side|there|now|next|of))"
     r"|(?:that|this)(?:'s|\s+is)\s+(?:the\s+)?right\s+(?:one|building|place))"),
]  # fmt: skip
_COMPILED = [(act, value, re.compile(p)) for act, value, p in _PATTERNS]

# "keep going straight": an order to go on as the drone goes, which only the right way
# earns ("wrong direction, keep going straight" contradicts itself).
KEEP_ON = re.compile(
    r"\b(?:keep|continue|carry\s+on)\s+(?:(?:going|flying|moving|heading)\s+)?"
    r"(?:straight|forward|ahead|in\s+(?:this|that|the\s+same)\s+direction|this\s+way)\b",
    re.IGNORECASE,
)

# The drone's own voice: the guide never speaks as "I" about flying; "I think" does not
# count (a hedge, common in real answers).
_FIRST_PERSON = re.compile(
    r"\b(?:i(?:'ll|\s+will|'m|\s+am|\s+shall|\s+should|\s+need\s+to|\s+have\s+to)\s+(?!think\b)"
    r"|let\s+me\b|we(?:'ll|\s+will|\s+are|'re)\b|let's\b|i\s+(?:turn|fly|go|head|move|proceed|land))"
)
# Narration: the answer tells what "you are doing" instead of telling what to do.
_NARRATION = re.compile(
    r"\byou(?:'re|\s+are)\s+(?:now\s+)?(?:turning|flying|heading|moving|proceeding|landing"
    r"|going\s+(?:to\s+)?(?:turn|fly|head|go|move|land)|crossing|passing|following|reaching"
    r"|going\s+(?:forward|straight|ahead|back|left|right|north|south|east|west|towards?))\b"
    r"|\byou\s+(?:turn|fly|head|move|proceed|cross|land)(?:ed|s)?\b(?!\s+(?:to\s+)?(?:your|the|it)\b)"
    # where the drone is, said of the drone: "you are at your 11 o'clock"
    r"|\byou(?:'re|\s+are)\s+(?:now\s+)?(?:at|in|on)\s+(?:your|the)\b"
)
# Verbs that start an instruction, at the start of a sentence or clause.
_IMPERATIVE_VERBS = (
    "turn|go|fly|head|move|keep|continue|proceed|follow|cross|land|stop|look|face|pass|"
    "rotate|hover|travel|find|search|descend|ascend|approach|advance|return|circle|veer|"
    "navigate|stay|make|take|locate|spot|watch"
)
# An order: the bare verb with no subject or auxiliary in front ("turn left", "once you
# pass the tree turn left"), or after "you need to" / "you should" / "you have to".
IMPERATIVE = re.compile(
    r"(?:\b(?:need|have|has)\s+to\s+|\b(?:should|must)\s+|"
    r"(?<!\byou\s)(?<!\bi\s)(?<!\bwe\s)(?<!\bthey\s)(?<!\bwill\s)(?<!'ll\s)(?<!\bto\s)"
    r"(?<!\bcan\s)(?<!\bcould\s)(?<!\bwould\s)(?<!\bmay\s)(?<!\bmight\s)(?<!\bthe\s)(?<!\ba\s))"
    rf"\b(?:{_IMPERATIVE_VERBS})\b(?!')"
)
# A clause that opens with a bare verb is an order, whatever the verb ("carry on
# straight", "don't rush", "hover over it"): the first word after fillers and a negation.
_CLAUSE_OPENING = re.compile(
    r"(?:^|[.!?;:,]|\b(?:and|then)\b)\s*(?:(?:please|now|just|then|and|so)\s+)*"
    r"((?:do\s+not|don'?t|never)\s+)?([a-z]+)\b(?!')"
)


def _opens_with_a_verb(text: str) -> bool:
    """After "don't" any verb's bare form is an order; else a word mostly a verb."""
    return any(
        lexicon.is_verb_first(m.group(2), after_negation=bool(m.group(1)))
        for m in _CLAUSE_OPENING.finditer(text)
    )


_SENTENCE = re.compile(r"[^.!?;]+[.!?;]*")


# A negation in any spelling reads as "not": "it isn't in view yet" is "it is not in
# view yet", "you haven't arrived" is "you have not arrived".
_NEGATIONS = [
    (re.compile(r"\b(?:can'?t|cannot)\b"), "can not"),
    (re.compile(r"\bwon'?t\b"), "will not"),
    (re.compile(r"\b(do|does|did|is|are|was|were|should|would|could|must|has|have|had|need)"
                r"n'?t\b"), r"\1 not"),
]  # fmt: skip


def _prepare(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("`", "'")
    for pattern, spelled in _NEGATIONS:
        text = pattern.sub(spelled, text)
    return " ".join(text.split())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def extract(text: str) -> Features:
    """The dialogue acts, person and mood of one answer (act -> sorted values)."""
    return read(text)[0]


def without_acts(text: str) -> str:
    """The text (lower-cased) with its act phrases blanked: what content.py compares,
    since the acts themselves are compared here."""
    return read(text)[1]


# "That is the destination." in front of what follows affirms what the drone sees; at the
# end ("a red house, that is your destination") it only names the goal.
_LEADING_AFFIRMATION = re.compile(
    r"^\s*(?:(?:yes|yeah|yep|ok|okay|hi|hello|hey)(?:\s+(?:there|drone))?\W+)*(?:that|this)(?:'s|\s+is|s)\s+(?:the|your|our)\s+"
    r"(?:destination|goal|target|one)\s*(?:[.!:;,]|$)"
)


_CONDITION = re.compile(
    r"\b(?:once|when|whenever|after|until|till|if|as\s+soon\s+as|before|where)\s+"
    r"you(?:'re|\s+are|\s+(?:turn|fly|head|move|cross|pass|reach|get|see|spot))\b"
)


def read(text: str) -> tuple[Features, str]:
    t = _prepare(text)
    found: dict[str, set[str]] = {act: set() for act in ACTS}
    rest = []  # the sentences with their act phrases blanked, for person and mood
    for sentence in sentences(t) or [t]:
        s = sentence
        for act, value, pattern in _COMPILED:
            for m in list(pattern.finditer(s)):
                found[act].add(value)
                s = s[: m.start()] + " " * (m.end() - m.start()) + s[m.end() :]
        rest.append(s)
    m = _LEADING_AFFIRMATION.match(rest[0] if rest else "")
    if m:
        found["affirmation"].add("that is it")
        rest[0] = " " * m.end() + rest[0][m.end() :]
    # "you are going the wrong way" is progress, not narration: read the rest only
    rest_text = " ".join(" ".join(rest).split())
    # "once you are at the roundabout, turn" sets a condition; it does not narrate
    rest_text = _CONDITION.sub(" ", rest_text)
    if _FIRST_PERSON.search(rest_text):
        found["person"].add("first")
    if _NARRATION.search(rest_text):
        found["mood"].add("narration")
    if IMPERATIVE.search(rest_text) or _opens_with_a_verb(rest_text):
        found["mood"].add("instruction")
    return Features({a: tuple(sorted(v)) for a, v in found.items()}), " . ".join(rest)


def compare(original: Features, candidate: Features) -> list[dict]:
    """Act by act, what the candidate changed: `<act>_changed`, `_dropped`, `_added`."""
    reasons: list[dict] = []
    for act in ACTS:
        before = set(original.values.get(act, ()))
        after = set(candidate.values.get(act, ()))
        dropped, added = sorted(before - after), sorted(after - before)
        while dropped and added:
            reasons.append({"code": f"{act}_changed", "from": dropped.pop(0), "to": added.pop(0)})
        reasons += [{"code": f"{act}_dropped", "value": v} for v in dropped]
        reasons += [{"code": f"{act}_added", "value": v} for v in added]
    return reasons
