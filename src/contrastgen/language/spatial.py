"""Spatial facts of a navigation instruction, and what changed between two of them.

Each family maps the many spellings people type ("8'o clock", "2 clock", "two o'clock",
"foward", "north-east", "car park") onto one canonical value, so that comparing two
texts is comparing sets. Extraction works on spans: a span taken by one family (a clock
hour, an angle, a distance) is blanked so its number is not read again as a count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from contrastgen.language import lexicon

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}  # fmt: skip
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "last": "last",
}  # fmt: skip
_NUM = r"(?:\d{1,3}|" + "|".join(NUMBER_WORDS) + r")"

# Clock positions: "3 o'clock", "3 oclock", "3'o clock", "3 o clock", "2 clock",
# "two o'clock", "3:00 direction"; and the bare "at your 10" / "to your 4".
CLOCK = re.compile(
    rf"\b(?P<h>{_NUM})\s*(?:'\s*o|o\s*'|o)?\s*'?\s*(?:clock|oclock|o'clock)\b"
    r"|\b(?P<h2>\d{1,2}):00\b"
    # "follow the 1 hour direction", "turn to 7 hrs": AVDN guides write hours for clock
    rf"|\b(?P<h3>{_NUM})\s*(?:hours?|hrs?|h)\b"
)


def clock_hour(match: re.Match[str]) -> int:
    """The hour of a CLOCK match, whichever spelling matched."""
    return _number(match.group("h") or match.group("h2") or match.group("h3"))


# "at your 10": only with "your" and only where a direction word may follow, so that
# "go to your 3 blue cars" stays a count.
_CLOCK_BARE = re.compile(
    rf"\b(?:at|to|towards?|on|in)\s+(?:your|ur)\s+(?P<h>{_NUM})"
    r"(?=\s*(?:$|[.,;:!?)-]|and\b|then\b|direction\b|side\b|position\b|until\b|till\b"
    r"|for\b|about\b|a\s+(?:little|bit)\b))"
)
# "right after the bridge", "right below you": "right" as "just", before a word of place.
# As a direction, "right" may still come before "of", "to", "on" ("right of the road",
# "turn right on the road"): only the words below cannot follow the direction.
_RIGHT_AS_JUST_ONLY = r"after|before|behind|beside|next|in\s+front|at|above|below|by|past|on\s+top"
# ... while "it's right below / up ahead / of the road" affirms nothing (dialogue.py): any
# word of place after "right" makes it no "that's right"
RIGHT_AS_JUST = (
    _RIGHT_AS_JUST_ONLY + r"|under|underneath|beneath|on|in|over|across|there|here|ahead|near"
    r"|of|to|around|up|down|between|through|along|inside|outside|beyond|opposite|towards?|into"
    r"|onto"
)
# "right" as in "correct", and "a little" as in "a bit": not spatial facts.
NOT_SPATIAL = re.compile(
    r"\b(?:(?:on\s+the\s+|in\s+the\s+)?right\s+(?:track|way|path|direction)|(?:you(?:'re|\s+are)|that(?:'s|\s+is)"
    r"|it(?:'s|\s+is)|all)\s+right"
    # "right now" is "now", but "turn right now" turns
    r"|(?<!turn\s)(?<!go\s)(?<!head\s)(?<!veer\s)(?<!move\s)right\s+(?:now|away|here|there)"
    # "lots of cars" is a quantity, not a parking lot
    r"|(?:a\s+)?lots?\s+of"
    # "as far as the road" is "until"; "come across" is "find"; "go over to" is "go to"
    r"|as\s+far\s+as|(?:go|fly|head|move)\s+over\s+to"
    # "right after the bridge": immediately, not a direction
    r"|(?<!turn\s)(?<!go\s)(?<!head\s)(?<!veer\s)(?<!move\s)(?<!your\s)(?<!the\s)(?<!to\s)"
    r"right(?=\s+(?:" + _RIGHT_AS_JUST_ONLY + "))"
    r"|c(?:o|a)me?s?\s+across(?=\s+(?:a|an|some|it|the\s+(?:destination|goal|target))\b)"
    # "first, fly north" / "first fly north" orders steps; "the first building" counts
    r"|(?<!the\s)first(?=\s*,|\s+(?:go|fly|turn|head|move|keep|continue|land|cross|pass)\b))\b"
)
_ADVERB_LITTLE = re.compile(r"\ba\s+(?:little|bit)(?:\s+bit)?\b(?!\s+(?:{}))")
ANGLE = re.compile(rf"\b(?P<a>{_NUM})\s*(?:degrees?|degree|deg\b|°)")
DISTANCE = re.compile(
    rf"\b(?P<n>{_NUM})\s*(?P<u>m|meters?|metres?|feet|ft|foot|yards?|yds?|km|miles?)\b"
)

DIRECTION_WORDS = {
    "left": "left", "lft": "left", "leftward": "left", "leftwards": "left",
    "right": "right", "rigth": "right", "rihgt": "right", "rightward": "right",
    "forward": "forward", "forwards": "forward", "foward": "forward", "fwd": "forward",
    "forword": "forward", "foreward": "forward", "ahead": "forward", "straight": "forward",
    "strait": "forward", "onward": "forward", "onwards": "forward",
    "backward": "backward", "backwards": "backward", "back": "backward",
    "reverse": "backward", "backwords": "backward", "return": "backward",
}  # fmt: skip
_AROUND = re.compile(
    r"\b(?:turn(?:ing)?\s+(?:a)?round|turn(?:ing)?\s+back|u[\s-]?turn|about[\s-]face|opposite\s+direction"
    r"|(?:the\s+)?(?:other|opposite)\s+way)\b"
)

_CARDINAL_COMPOUND = re.compile(r"\b(north|south)[\s-]?(east|west)(?:ern(?:most)?|wards?|erly)?\b")
_CARDINAL = re.compile(r"\b(north|south|east|west)(?:ern(?:most)?|most|wards?|erly)?\b")
_CARDINAL_ABBR = {"north": "N", "south": "S", "east": "E", "west": "W"}

# Landmark synonyms: every surface form maps to one canonical name. Multi-word forms are
# matched first (longest first) so "car park" is not read as "car".
LANDMARKS: dict[str, list[str]] = {
    "building": ["building", "buildings", "buildinds", "buliding", "bulding", "builing",
                 "structure", "structures", "edifice", "bldg"],
    "road": ["road", "roads", "street", "streets", "highway", "highways", "avenue",
             "roadway", "raod"],
    "house": ["house", "houses", "home", "homes", "residence", "hose"],
    "parking lot": ["parking lot", "parking lots", "car park", "car parks", "parking area",
                    "parking space", "parking", "parkinglot"],
    "field": ["field", "fields", "ground", "grounds", "grass field", "lawn", "meadow",
              "grassland"],
    "warehouse": ["warehouse", "warehouses", "storehouse", "depot"],
    "pool": ["pool", "pools", "swimming pool", "swimming pools"],
    "truck": ["truck", "trucks", "lorry", "lorries"],
    "ship": ["ship", "ships", "boat", "boats", "vessel", "vessels"],
    "car": ["car", "cars", "vehicle", "vehicles"],
    "bus": ["bus", "buses", "busses"],
    "tree": ["tree", "trees", "woods", "forest", "grove"],
    "roof": ["roof", "roofs", "rooftop", "rooftops", "roofed"],
    "tower": ["tower", "towers"],
    "bridge": ["bridge", "bridges"],
    "river": ["river", "rivers", "canal", "stream"],
    "lake": ["lake", "lakes", "pond", "ponds"],
    "tank": ["tank", "tanks", "silo", "silos"],
    "container": ["container", "containers", "shipping container"],
    "railway": ["railway", "railroad", "rail", "rails", "train tracks", "train track",
                "tracks"],
    "train": ["train", "trains"],
    "intersection": ["intersection", "intersections", "crossroad", "crossroads",
                     "junction", "crossing"],
    "roundabout": ["roundabout", "traffic circle"],
    "court": ["court", "courts", "tennis court", "basketball court"],
    "path": ["path", "paths", "trail", "walkway", "footpath", "sidewalk"],
    "runway": ["runway", "runways", "airstrip"],
    "airplane": ["airplane", "airplanes", "plane", "planes", "aircraft", "jet"],
    "hangar": ["hangar", "hangars"],
    "shed": ["shed", "sheds", "hut", "huts", "shack"],
    "fence": ["fence", "fences", "wall", "walls"],
    "tent": ["tent", "tents"],
    "crane": ["crane", "cranes"],
    "factory": ["factory", "factories", "plant", "mill"],
    "church": ["church", "churches", "chapel"],
    "school": ["school", "schools"],
    "stadium": ["stadium", "arena"],
    "dock": ["dock", "docks", "pier", "piers", "harbor", "harbour", "port", "wharf"],
    "garden": ["garden", "gardens", "park", "yard"],
    "apartment": ["apartment", "apartments", "apartment block", "flats"],
    "hill": ["hill", "hills", "mound"],
    "solar panels": ["solar panel", "solar panels", "solar farm"],
    "trailer": ["trailer", "trailers", "caravan"],
    "lot": ["lot", "lots", "empty lot", "open area", "clearing"],
}  # fmt: skip
# Landmarks that are kinds of building: "a red house" -> "a red building" only names its
# kind, it is no contrast.
BUILDING_KINDS = frozenset(
    {"house", "warehouse", "shed", "school", "church", "factory", "apartment", "hangar",
     "tower", "stadium"}
)  # fmt: skip
LANDMARK_FORMS = sorted(
    ((form, canon) for canon, forms in LANDMARKS.items() for form in forms),
    key=lambda fc: -len(fc[0]),
)
LANDMARK_RE = re.compile(r"\b(" + "|".join(re.escape(f) for f, _ in LANDMARK_FORMS) + r")\b")
LANDMARK_CANON = dict(LANDMARK_FORMS)

COLORS = {
    "red": "red", "reddish": "red", "maroon": "red", "blue": "blue", "bluish": "blue",
    "green": "green", "greenish": "green", "white": "white", "whitish": "white",
    "black": "black", "dark": "dark", "gray": "gray", "grey": "gray", "greyish": "gray",
    "grayish": "gray", "yellow": "yellow", "orange": "orange", "brown": "brown",
    "purple": "purple", "pink": "pink", "silver": "silver", "beige": "beige",
    "tan": "beige", "golden": "gold", "gold": "gold", "teal": "teal",
}  # fmt: skip
SIZES = {
    "big": "large", "large": "large", "huge": "large", "giant": "large", "massive": "large",
    "larger": "larger", "bigger": "larger", "biggest": "largest", "largest": "largest",
    "small": "small", "little": "small", "tiny": "small", "smaller": "smaller",
    "smallest": "smallest", "long": "long", "longer": "long", "short": "short",
    "tall": "tall", "taller": "tall", "tallest": "tallest", "high": "tall",
    "wide": "wide", "narrow": "narrow",
}  # fmt: skip
_COUNT_PHRASES = re.compile(r"\b(?:a\s+pair\s+of|a\s+couple\s+of|couple\s+of|both)\b")
_COUNT_NUMBER = re.compile(rf"\b(?P<n>{_NUM})\b")
_ORDINAL = re.compile(r"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth"
                      r"|last|(?P<d>\d{1,2})(?:st|nd|rd|th))\b")  # fmt: skip

# Relations, longest phrases first; each maps to a canonical relation.
RELATIONS: list[tuple[str, str]] = [
    # a crossing that sets the moment of the next step is the place past it: "after
    # crossing the bridge", "when you have passed it" = "after it" ("once you are over
    # it" stays over: "land once you are over the roof" is no place past the roof)
    (r"(?:after|once|when|as\s+soon\s+as)\s+(?:you(?:'ve|'re|\s+are|\s+have)?\s+)?"
     r"(?:cross(?:ed|ing)?|pass(?:ed|ing)?|past|beyond|gone\s+past)", "past"),
    # ... but "once you are over the bridge" has crossed it: a road, river or railway
    # is no place to stop over
    (r"(?:after|once|when|as\s+soon\s+as)\s+you(?:'ve|'re|\s+are|\s+have)?\s+(?:been\s+)?"
     r"(?:over|across)(?=\s+(?:the\s+|that\s+|this\s+)?(?:main\s+|small\s+|big\s+)?"
     r"(?:bridge|road|street|river|highway|railway|rail\s+line|railroad|tracks|canal|stream))",
     "past"),
    (r"before\s+(?:you\s+)?(?:cross(?:es|ed|ing)?|pass(?:es|ed|ing)?|reach(?:es|ing)?)", "before"),
    (r"pass(?:es|ed|ing)?\s+over", "over"),  # "passing over the road" crosses it
    (r"in\s+front(?:\s+of)?", "in front of"), (r"behind", "behind"), (r"back\s+of", "behind"),
    (r"rear\s+of", "behind"),
    (r"next\s+to", "next to"), (r"beside", "next to"), (r"besides", "next to"),
    (r"by(?=\s+(?:the|a|an)\s)", "by"),  # "the house by the road": near or next to it
    (r"adjacent\s+to", "next to"), (r"alongside", "next to"), (r"by\s+the\s+side\s+of", "next to"),
    (r"(?:to\s+the\s+|on\s+the\s+)?left\s+(?:side\s+)?of", "left of"),
    (r"(?:to\s+the\s+|on\s+the\s+)?right\s+(?:side\s+)?of", "right of"),
    (r"over", "over"), (r"above", "over"),
    (r"(?<!\bland\s)(?<!\bdown\s)on\s+top\s+of", "over"),  # "land on top of it": on it
    (r"under", "under"), (r"below", "under"), (r"beneath", "under"),
    (r"underneath", "under"),
    # "fly over the road", "fly across it", "cross (over) it": one crossing for a drone;
    # "across from the park" faces it
    (r"across\s+from", "opposite"), (r"across", "over"),
    (r"cross(?:es|ed|ing)?(?:\s+over)?", "over"), (r"past", "past"), (r"beyond", "past"),
    (r"through", "through"), (r"thru", "through"), (r"between", "between"),
    (r"opposite(?!\s+direction)", "opposite"), (r"along", "along"),
    (r"follow(?:s|ing|ed)?(?=\s+(?:the|this|that|it)\b)", "along"),  # "follow the road"
    # "not far", "isn't far away": the negation in any spelling
    (r"(?:not|(?:is|are|was)n'?t)\s+(?:very\s+|too\s+)?far(?:\s+away)?(?:\s+from)?", "near"),
    # "the far end of the road" is its end: "far" before a noun is no relation
    (r"(?<!\bthe\s)far(?:\s+away)?(?:\s+from)?", "far from"),
    (r"before", "before"),
    # "right after the fence", "just beyond the fence", "once past the bridge": one place
    # "after making a turn" orders two steps: a gerund after it is no place
    # ("after that, turn" orders steps too; "after that field" is a place)
    (r"after(?!\s+(?:you|which|[a-z]+ing\b)|\s+(?:that|this)\b(?!\s+(?:"
     + "|".join(re.escape(f) for f, _ in LANDMARK_FORMS) + r")\b))", "past"),
    (r"in\s+the\s+middle(?:\s+of)?", "middle"), (r"(?:the\s+)?middle\s+one", "middle"),
    (r"in\s+the\s+(?:center|centre)(?:\s+of)?", "middle"), (r"at\s+the\s+edge\s+of", "edge"),
    (r"pass(?:es|ed|ing)?", "past"),
    # a relation has an object: "it is near." says how far, not where
    (r"near(?!\s*(?:[.,;:!?]|$|now\b))", "near"), (r"close\s+to", "near"),
    # ... unless the drone comes near: "slow down when you get close" says where
    (r"(?:get|gets|getting|come|comes|coming)\s+(?:close|near)\b(?!\s+to\b)", "near"),
    (r"around", "around"),
    (r"inside", "inside"), (r"within", "inside"), (r"outside", "outside"),
]  # fmt: skip
_RELATION_RE = [(re.compile(r"\b" + pat + r"\b"), canon) for pat, canon in RELATIONS]

FAMILIES = (
    "clock", "direction", "angle", "cardinal", "landmark", "color", "size", "count",
    "ordinal", "distance", "relation",
)  # fmt: skip


_ADVERB_LITTLE = re.compile(
    _ADVERB_LITTLE.pattern.format(
        "|".join(re.escape(w) for w in [*COLORS, *SIZES, *(f for f, _ in LANDMARK_FORMS)])
    )
)


def _number(token: str) -> int:
    return int(token) if token.isdigit() else NUMBER_WORDS[token]


def _blank(text: str, match: re.Match[str]) -> str:
    start, end = match.span()
    return text[:start] + " " * (end - start) + text[end:]


def _prepare(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("`", "'")
    text = re.sub(r"\b(is|are|was|were|do|does|did)n'?t\b", r"\1 not", text)  # "isn't far"
    text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1\2", text)
    return text


@dataclass(frozen=True)
class Features:
    """Canonical spatial facts of one text: family -> sorted tuple of values."""

    values: dict[str, tuple]

    def to_json(self) -> dict[str, list]:
        return {family: list(vals) for family, vals in self.values.items() if vals}

    def is_empty(self) -> bool:
        return not any(self.values.values())


# Each pass takes the facts of one kind out of the (lower-cased) text into `found` and
# blanks what it matched, so a later pass cannot read the same words again: clock
# positions before bare numbers, "left of" before "left". The order is part of the
# meaning.
Found = dict[str, set]


def _clock_pass(t: str, found: Found) -> str:
    for m in list(CLOCK.finditer(t)):
        hour = clock_hour(m)
        if 1 <= hour <= 12:
            found["clock"].add(hour)
        t = _blank(t, m)
    for m in list(_CLOCK_BARE.finditer(t)):
        hour = _number(m.group("h"))
        if 1 <= hour <= 12:
            found["clock"].add(hour)
            t = _blank(t, m)
    return t


def _angle_pass(t: str, found: Found) -> str:
    for m in list(ANGLE.finditer(t)):
        angle = _number(m.group("a"))
        if angle == 180:  # "turn 180 degrees" says the same as "turn around"
            found["direction"].add("around")
        else:
            found["angle"].add(angle)
        t = _blank(t, m)
    for m in list(_AROUND.finditer(t)):
        found["direction"].add("around")
        t = _blank(t, m)
    return t


def _distance_pass(t: str, found: Found) -> str:
    for m in list(DISTANCE.finditer(t)):
        unit = m.group("u")
        unit = {"m": "m", "km": "km"}.get(unit, unit.rstrip("s").replace("metre", "meter"))
        unit = {"meter": "m", "foot": "ft", "feet": "ft", "yd": "yard", "mile": "mile"}.get(
            unit, unit
        )
        found["distance"].add(f"{_number(m.group('n'))} {unit}")
        t = _blank(t, m)
    return t


def _cardinal_pass(t: str, found: Found) -> str:
    for m in list(_CARDINAL_COMPOUND.finditer(t)):
        found["cardinal"].add(_CARDINAL_ABBR[m.group(1)] + _CARDINAL_ABBR[m.group(2)])
        t = _blank(t, m)
    for m in _CARDINAL.finditer(t):
        found["cardinal"].add(_CARDINAL_ABBR[m.group(1)])
    return t


def _relation_pass(t: str, found: Found) -> str:
    for pattern, canon in _RELATION_RE:
        for m in list(pattern.finditer(t)):
            found["relation"].add(canon)
            if canon in ("left of", "right of"):
                found["direction"].add(canon.split()[0])
            t = _blank(t, m)
    return t


def _landmark_pass(t: str, found: Found) -> str:
    for m in list(LANDMARK_RE.finditer(t)):
        found["landmark"].add(LANDMARK_CANON[m.group(1)])
        t = _blank(t, m)
    return t


def _ordinal_pass(t: str, found: Found) -> str:
    for m in list(_ORDINAL.finditer(t)):
        word = m.group(1)
        found["ordinal"].add(int(m.group("d")) if m.group("d") else ORDINALS[word])
        t = _blank(t, m)
    return t


def _count_pass(t: str, found: Found) -> str:
    for m in list(_COUNT_PHRASES.finditer(t)):
        found["count"].add(2)
        t = _blank(t, m)
    for m in _COUNT_NUMBER.finditer(t):
        n = _number(m.group("n"))
        if n != 1:  # "one" is mostly a pronoun ("the one on the left"), not a count
            found["count"].add(n)
    return t


def _word_pass(t: str, found: Found) -> str:
    for word in re.findall(r"[a-z]+", t):
        if word in DIRECTION_WORDS:
            found["direction"].add(DIRECTION_WORDS[word])
        if word in COLORS:
            found["color"].add(COLORS[word])
        if word in SIZES:
            found["size"].add(SIZES[word])
    return t


_PASSES = (
    _clock_pass,
    _angle_pass,
    _distance_pass,
    _cardinal_pass,
    _relation_pass,
    _landmark_pass,
    _ordinal_pass,
    _count_pass,
    _word_pass,
)


def extract(text: str) -> Features:
    """Extract every spatial family from free text (typos and messy spellings included)."""
    t = _prepare(text)
    found: Found = {family: set() for family in FAMILIES}
    t = NOT_SPATIAL.sub(lambda m: " " * len(m.group(0)), t)
    t = _ADVERB_LITTLE.sub(lambda m: " " * len(m.group(0)), t)
    for take in _PASSES:
        t = take(t, found)
    return Features({f: tuple(sorted(v, key=str)) for f, v in found.items()})


# A relation word that says either of two ("the shed by the river" is near it or next to
# it): it matches both, and neither is a change.
_VAGUE = {"by": frozenset({"near", "next to"})}


def _vague_kept(values: list, other: list) -> list:
    """`values` less those the `other` side says in a vaguer or more precise word."""
    return [
        v
        for v in values
        if not any(v in _VAGUE.get(o, ()) or o in _VAGUE.get(v, ()) for o in other)
    ]


def compare(original: Features, candidate: Features) -> list[dict]:
    """What the candidate changed, family by family, as machine-readable reasons.

    `<family>_changed` (one value swapped for another), `<family>_dropped`,
    `<family>_added`. An empty list means every spatial fact is preserved.
    """
    reasons: list[dict] = []
    for family in FAMILIES:
        before = set(original.values.get(family, ()))
        after = set(candidate.values.get(family, ()))
        dropped = sorted(before - after, key=str)
        added = sorted(after - before, key=str)
        if family == "relation":
            dropped, added = _vague_kept(dropped, added), _vague_kept(added, dropped)
        while dropped and added:
            reasons.append(
                {"code": f"{family}_changed", "from": dropped.pop(0), "to": added.pop(0)}
            )
        reasons += [{"code": f"{family}_dropped", "value": v} for v in dropped]
        reasons += [{"code": f"{family}_added", "value": v} for v in added]
    return reasons


_BINDING_TOKEN = re.compile(r"[a-z]+|[.,;:!?()-]")
_REACH = 4  # how many words an attribute may stand from its landmark


def bindings(text: str) -> set[tuple[str, str]]:
    """(attribute, landmark) pairs: each color or size with the landmark it describes,
    the next one within a few words of the same clause ("a small grey building"), else
    the one just before ("a building in grey"). Two texts with the same attributes and
    landmarks can still say different things: "a small building by a pond" is not "a
    building by a small pond"."""
    tokens = _BINDING_TOKEN.findall(text.lower())
    landmark_at = {}
    for i in range(len(tokens)):
        for form, canon in LANDMARK_FORMS:  # longest forms first: "parking lot"
            words = form.split()
            if tokens[i : i + len(words)] == words:
                landmark_at[i + len(words) - 1] = canon
                break
    pairs = set()
    for i, tok in enumerate(tokens):
        attribute = COLORS.get(tok) or SIZES.get(tok)
        if attribute is None or i in landmark_at:
            continue
        ahead = (j for j in range(i + 1, min(len(tokens), i + 1 + _REACH)))
        behind = (j for j in range(i - 1, max(-1, i - 1 - _REACH), -1))
        for side in (ahead, behind):
            j = next((j for j in side if j in landmark_at or not tokens[j].isalpha()), None)
            if j is not None and j in landmark_at:
                while j > i and j + 1 in landmark_at:  # "a large roof house": the head noun
                    j += 1
                pairs.add((attribute, landmark_at[j]))
                break
    return pairs


_GOAL = r"(?:destination|goal|target)"
_GOAL_FIRST = re.compile(
    _GOAL + r"\s+(?:is|looks\s+like|appears\s+to\s+be|will\s+be|lies)\b(?P<rest>[^.;]*)"
)
_GOAL_LAST = re.compile(r"(?P<rest>[^.;:]*)\b(?:is|as)\s+(?:the|your|our)\s+" + _GOAL + r"\b")


_CLAUSE = re.compile(r",|\band\b")
_DESCRIBES = re.compile(r"^\s*(?:the\s+one|which|that|with|straight|at|on|in|to)\b")


_PLACED = re.compile(
    r"\s*(?:just\s+|right\s+)?(?:across|at|on|in|near|behind|beside|next|by|under|over|past"
    r"|after|before|between|along|opposite|inside|outside|around|located|situated|to\s+the)\b"
)
_NAMED_AFTER = re.compile(r"\s*[:\u2014-]\s*(?P<what>(?:a|an|the)\b[^.;,]*)")
_PRONOUN_ONE = re.compile(r"^\s*(?:the|a)\s+(?:\w+\s+)?one\b")


def goal(text: str) -> str | None:
    """The landmark the answer names as the destination: the first one after "the goal
    is", or in the subject of "... is the goal" (its last clause that names a landmark
    and does not only describe one); None when it names none that way. A part ("roof")
    gives way to the thing it is part of."""
    t = text.lower()
    m = _GOAL_FIRST.search(t)
    if m and _PRONOUN_ONE.match(m.group("rest")):  # "the goal is the bigger one with ..."
        return None
    if m and _PLACED.match(m.group("rest")):  # "the goal is across the river": where, not what
        return None
    if m and LANDMARK_RE.search(m.group("rest")):
        return _head(m.group("rest"))
    m = _GOAL_LAST.search(t)
    if not m:
        return None
    named = _NAMED_AFTER.match(t, m.end())  # "after the field is the goal: a warehouse"
    if named:
        return _head(named.group("what")) if LANDMARK_RE.search(named.group("what")) else None
    if re.search(r"\b(?:which|that)\s*$", m.group("rest")):  # "..., which is the goal"
        # the landmark just before "which": "the pond, stands the barn that" names no
        # goal the lexicon knows
        found = list(LANDMARK_RE.finditer(m.group("rest")))
        tail = m.group("rest")[found[-1].end() :] if found else ""
        if not found or len(re.findall(r"[a-z]+", tail)) > 1:
            return None
        return LANDMARK_CANON[found[-1].group(0)]
    clauses = [c for c in _CLAUSE.split(m.group("rest")) if LANDMARK_RE.search(c)]
    subject = [c for c in clauses if not _DESCRIBES.match(c)] or clauses
    return _head(subject[-1]) if subject else None


def _head(span: str) -> str:
    matches = list(LANDMARK_RE.finditer(span))
    # a modifier of the next landmark ("a roofed warehouse", "a roof house") is no head
    found = [
        LANDMARK_CANON[m.group(0)]
        for m, nxt in zip(matches, [*matches[1:], None], strict=True)
        if nxt is None or span[m.end() : nxt.start()].strip(" -")
    ]
    wholes = [
        f for f in found if not any(lexicon.is_part(f, other) for other in found if other != f)
    ]
    return (wholes or found)[0]
