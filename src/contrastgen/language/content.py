"""Content words of an answer, and what a rewording kept, dropped or added.

The spatial lexicon (spatial.py) knows the facts that have families; an answer says more
than that: "dormers", "terminal entryway", "after passing the tree", "the one nearest
the shed". This check reads every word: each content word of the original must be in
the candidate, itself or an equivalent, and the candidate must not assert a content word
the original does not have. Words are compared as concepts: a light stem, then one
canonical name per synonym group (SYNONYMS, plus the spatial lexicon's own spellings),
so "goal" / "destination", "grey" / "gray", "foward" / "forward", "car park" /
"parking lot" are the same word.

The synonym table is curated, not learned: a pair is in it only when swapping the words
never changes what an AVDN answer tells the drone (docs/judged-set.md says how it was
checked). The rule-made positives (candidates/rule_positives.py) draw their
substitutions from the same table, so what they write is what this check accepts.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache

from contrastgen.language import dialogue, lexicon, spatial

# Synonym groups: the first word is the canonical one. Multi-word forms are phrases
# matched before single words. Each group is a set of words a guide uses for one thing.
SYNONYMS: list[list[str]] = [
    ["destination", "goal", "target", "endpoint"],
    # "keep going straight" tells the drone what "go straight" does (blind pairs, issue 33)
    [
        "go",
        "fly",
        "head",
        "move",
        "proceed",
        "travel",
        "navigate",
        "continue",
        "keep going",
        "keep flying",
        "keep moving",
        "keep on",
        "carry on",
        "keep",
        "go over to",
        "fly over to",
        "head over to",
        "move over to",
    ],
    ["forward", "straight ahead", "straight forward", "forward ahead"],
    # the direction `around` is compared by spatial.py; its verb phrase says nothing more
    [
        "around",
        "turn around",
        "turn round",
        "turned around",
        "turning around",
        "make a u-turn",
        "make a u turn",
        "do a u-turn",
        "u-turn",
        "u turn",
        "face the other way",
        "face the opposite way",
        "turn the other way",
        "the other way",
        "the opposite way",
        "other way",
        "opposite way",
    ],
    [
        "see",
        "spot",
        "notice",
        "find",
        "come across",
        "come into view",
        "comes into view",
        "came into view",
    ],
    ["reach", "get to", "arrive at"],
    ["turn", "rotate", "face", "make a left", "make a right", "take a left", "take a right"],
    ["look", "check", "look for", "watch for", "search for", "keep an eye out for"],
    ["land", "touch down", "set down"],
    ["stop", "halt", "come to a stop", "come to a halt"],
    ["pass", "go past", "fly past", "passing", "past"],
    [
        "cross",
        "go across",
        "fly across",
        "crossing",
        "cross over",
        "fly over",
        "go over",
        "head over",
    ],
    ["big", "large", "huge"],
    ["small", "little", "tiny"],
    ["bigger", "larger"],
    ["smaller", "littler"],
    ["close", "near", "nearby", "not far", "not very far", "not too far"],
    ["next", "next to", "beside", "besides", "adjacent", "adjacent to", "alongside"],
    ["slightly", "a bit", "a little bit", "a tad"],
    ["many", "lots of", "a lot of", "plenty of", "numerous"],
    ["some", "several", "a few"],
    ["middle", "center", "centre"],
    ["edge", "border"],
    ["end", "far end"],
    ["corner"],
    ["flat", "level"],
    # "the goal looks like a red house" says what "the goal is a red house" says
    [
        "be",
        "look like",
        "looks like",
        "looking like",
        "resemble",
        "resembles",
        "appear",
        "appears",
        "seems to be",
    ],
    ["2", "a pair of", "pair of", "a couple of", "couple of", "both"],
    ["surround", "surrounded"],
    ["main road", "main street"],
    ["office", "offices"],
    ["far", "distant"],
    ["more", "further", "farther"],
    # "right after the bridge": an intensifier, as "directly" and "immediately" are
    ["right", "directly", "immediately"],
    ["there", "that spot", "that place"],
]

# Words that carry no content of their own in an AVDN answer: articles, pronouns,
# auxiliaries, prepositions the spatial families do not cover, chatty fillers ("ok",
# "hi", "drone", "please"), and the units and hedges of the spatial families' numbers
# ("100 meters", "about 50 m", "180 degrees": the spatial check compares those), and
# sequence words ("then", "after", "once": the validator compares the order of steps).
# Negation ("not", "no", "never"), "before" and quantity ("only", "all", "each") are not
# in it: they change what is said.
STOPWORDS = frozenset(
    """
    a an the this that these those it its it's is are was were be been being am
    you your you're yours ur u we our us i me my he she they them their there's here
    of at in on by for with from into onto about as up down out off to toward towards
    and or but so if also just now well ok okay alright hi hello hey drone dear please
    thanks thank sir anymore
    will would can could should shall may might must ought do does did done has have had
    get got let lets let's thats its whats youre theres heres make makes
    reach be need needs until till untill til
    then afterwards after once
    about roughly approximately around
    m meter meters metre metres km feet ft foot yard yards yd yds mile miles
    degree degrees deg
    which who whom whose what where when how among
    one ones thing
    direction side position way area point location place
    located placed situated
    """.split()
)

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_IRREGULAR = {
    "went": "go", "gone": "go", "going": "go", "flew": "fly", "flown": "fly",
    "flying": "fly", "flies": "fly", "saw": "see", "seen": "see", "found": "find",
    "kept": "keep", "leaves": "leave", "left": "left", "buses": "bus", "busses": "bus",
    "lying": "lie", "parked": "park", "houses": "house", "trees": "tree",
}  # fmt: skip


def stem(word: str) -> str:
    """A light stem: plural -s, -ing, -ed, -es; enough for the words of AVDN answers."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)] + keep
            if suffix == "s" and word.endswith("ss"):
                return word
            if suffix in ("ing", "ed") and len(base) > 2 and base[-1] == base[-2]:
                base = base[:-1]  # "stopped" -> "stop"
            return base
    return word


@cache
def _concept_table() -> tuple[dict[str, str], re.Pattern[str]]:
    """Surface phrase -> concept, and one regex over the multi-word phrases."""
    table: dict[str, str] = {}
    for group in SYNONYMS:
        for form in group:
            table[form] = group[0]
    for canon, forms in spatial.LANDMARKS.items():
        for form in forms:
            table.setdefault(form, canon)
    for word, canon in {**spatial.COLORS, **spatial.DIRECTION_WORDS}.items():
        table.setdefault(word, canon)
    for word, n in spatial.NUMBER_WORDS.items():
        table.setdefault(word, str(n))
    for word, n in spatial.ORDINALS.items():
        table.setdefault(word, f"#{n}")
    # hyphenated forms too: the word pattern would split "u-turn" into "u" and "turn"
    phrases = sorted((f for f in table if " " in f or "-" in f), key=len, reverse=True)
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b")
    return table, pattern


@cache
def _a_little() -> re.Pattern[str]:
    nouns = [*spatial.COLORS, *spatial.SIZES, *(f for fs in spatial.LANDMARKS.values() for f in fs)]
    return re.compile(r"\ba little\b(?!\s+(?:" + "|".join(map(re.escape, nouns)) + r")\b)")


# Contractions spelled out, with or without the apostrophe ("you'll", "youll"): the
# function words; negations ("don't", "isn't") are spelled out by dialogue.read already.
_CONTRACTIONS = [
    (re.compile(r"\b(you|we|they|i|it|that|there)'?ll\b"), r"\1 will"),
    (re.compile(r"\b(you|we|they|i)'?ve\b"), r"\1 have"),
    (re.compile(r"\b(you|we|they)'re\b"), r"\1 are"),
    (re.compile(r"\b(you|we|they|i|it|that|there)'d\b"), r"\1 would"),
    (re.compile(r"\bi'?m\b"), "i am"),
    (re.compile(r"\b(left|right)[\s-]+hand\b"), r"\1"),  # "your right-hand side"
    # "avoid flying too fast" is "do not fly too fast"; "far away" is the relation "far"
    (re.compile(r"\b(?:avoid|refrain\s+from)\s+(?=\w+ing\b)"), "not "),
    (re.compile(r"\bfar\s+away\b"), "far"),
]  # fmt: skip


def _prepare(text: str) -> str:
    t = dialogue.without_acts(text).replace("`", "'").replace("\u2019", "'")
    for pattern, replacement in _CONTRACTIONS:
        t = pattern.sub(replacement, t)
    t = re.sub(r"\b(?:hi|hello|hey)\s+there\b", " ", t)  # a greeting, not a place
    t = re.sub(r"\b(north|south)[\s-]+(east|west)", r"\1\2", t)
    t = re.sub(r"\b(north|south|east|west)-?wards?\b", r"\1", t)  # "west-ward": west
    # "go back a little" is "a bit"; "a little house" is a small one
    t = _a_little().sub("slightly", t)
    t = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", r"#\1", t)
    t = re.sub(r"\b(north|south|east|west)(?:ern)?most\b", r"most \1", t)
    t = re.sub(r"\b(?:farthest|furthest)\b", "most", t)
    # a clock position or angle is one concept: "7'o clock", "7 hrs", "90 degrees"
    t = spatial.CLOCK.sub(lambda m: f" clock{spatial.clock_hour(m)} ", t)
    t = re.sub(r"\bo'?\s*clock\b|\boclock\b", " ", t)
    return t


def concepts(text: str) -> list[str]:
    """The content concepts of `text`, in order (synonyms and spellings merged)."""
    table, phrases = _concept_table()
    t = _prepare(text)
    out: list[str] = []
    pos = 0
    for m in phrases.finditer(t):
        out += _words(t[pos : m.start()], table)
        if table[m.group(0)] not in STOPWORDS:
            out.append(table[m.group(0)])
        pos = m.end()
    out += _words(t[pos:], table)
    return out


def _words(chunk: str, table: dict[str, str]) -> list[str]:
    out = []
    for raw in re.findall(r"#?[a-z0-9]+(?:'[a-z]+)?", chunk):
        word = raw.removesuffix("'s").replace("'", "")  # "can't" and "cant" alike
        if word in STOPWORDS or raw in STOPWORDS:
            continue
        if re.fullmatch(r"clock\d+", word):  # _prepare's clock position, not "clockwise"
            out.append(f"clock{int(word[5:])}")
            continue
        if word.startswith("#"):
            out.append(word)
            continue
        concept = table.get(word) or table.get(stem(word))
        if concept is None:
            # WordNet's dictionary form where it knows the word ("comes" -> come, not
            # the light stem's "com"), else the light stem
            concept = _lemma(word)
            concept = table.get(concept, concept)
        if concept in STOPWORDS:
            continue
        out.append(concept)
    return out


def _lemma(word: str) -> str:
    # a superlative or comparative keeps its degree: "nearest" is not "near"
    if word in _IRREGULAR or word.isdigit() or lexicon.degree(word):
        return stem(word)
    return lexicon.lemma(word) or stem(word)


def _all_words(text: str) -> set[str]:
    """Every word of `text` and its dictionary forms, function words included: "the goal
    lies behind" restates "is", "until you hit the road" restates "reach"."""
    words = set(re.findall(r"[a-z]+", _prepare(text)))
    return words | {form for word in words for form in lexicon.lemmas(word)}


def compare(original: str, candidate: str) -> tuple[list[str], list[str]]:
    """(concepts of the original the candidate lacks, concepts it adds), sorted. A
    concept the other text says in other words, by the tables or by WordNet
    (lexicon.same_sense: "locate" for "find", "halt" for "stop"), is neither."""
    before, after = set(concepts(original)), set(concepts(candidate))
    dropped, added = before - after, after - before
    if dropped or added:
        said_before, said_after = _all_words(original) | before, _all_words(candidate) | after
        # a dropped word is restated only by a word the original does not have ("just"
        # was there already: it does not stand in for a dropped "only")
        dropped = {c for c in dropped if not _restated(c, said_after - said_before, c)}
        dropped = {c for c in dropped if not _typo_of(c, said_after - said_before)}
        # a verb that says only what a function verb says ("until you hit the road" is
        # "until you reach it"; "the boat sitting at the dock" is the one that is there)
        added = {c for c in added if not _only_function(c, candidate, said_before)}
        dropped, added = _phrasal_verbs(original, candidate, dropped, added)
        dropped, added = _negated_opposites(dropped, added)
        dropped = {c for c in dropped if not _kind_of_neighbour(c, original)}
        added = {c for c in added if not _kind_of_neighbour(c, candidate)}
    return sorted(dropped), sorted(added)


def _phrasal_verbs(
    original: str, candidate: str, dropped: set[str], added: set[str]
) -> tuple[set[str], set[str]]:
    """A verb phrase WordNet knows whole ("pick out" is "spot", "come to" is "reach") that
    only the candidate says: its words add nothing when the phrase says a word of the
    original, and a word of the original it says is not dropped."""
    before = _phrases(original)
    new = {p: words for p, words in _phrases(candidate).items() if p not in before}
    if not new:
        return dropped, added
    table = _concept_table()[0]

    def says(words: set[str]) -> set[str]:
        return {w for w in words for p in new if w.isalpha() and lexicon.same_sense(p, w)}

    # words said, not concepts; "be" is too wide for a phrase ("go to" is a way to be)
    restated = says(_all_words(original) | {"reach"})
    kept = {table.get(w, table.get(stem(w), w)) for w in restated}
    told = {w for p, words in new.items() if says_any(p, restated) for w in words}
    return dropped - kept, {c for c in added if c not in told}


def says_any(phrase: str, words: set[str]) -> bool:
    return any(lexicon.same_sense(phrase, w) for w in words)


def _phrases(text: str) -> dict[str, set[str]]:
    """The two-word verb phrases of `text` that WordNet lists ("pick_out" -> its words)."""
    tokens = re.findall(r"[a-z]+", _prepare(text))
    out: dict[str, set[str]] = {}
    for a, b in zip(tokens, tokens[1:], strict=False):
        head = lexicon.lemma(a) or a
        if lexicon.is_verb_phrase(f"{head}_{b}"):
            out[f"{head}_{b}"] = {a, head, b, table_concept(head)}
    return out


def table_concept(word: str) -> str:
    table = _concept_table()[0]
    return table.get(word, table.get(stem(word), word))


def _typo_of(concept: str, words: set[str]) -> bool:
    """Whether `concept` is a word no dictionary knows, one slip away from a word the
    other text says instead ("trukc" / "truck"): a typo fixed."""
    return (
        len(concept) >= 4
        and concept.isalpha()
        and not lexicon.lemmas(concept)
        and any(one_slip(concept, word) for word in words)
    )


def one_slip(a: str, b: str) -> bool:
    """Whether `a` is `b` with one letter left out or put in, or two neighbours swapped."""
    if len(a) < len(b):
        a, b = b, a
    if len(a) - len(b) == 1:
        return any(a[:i] + a[i + 1 :] == b for i in range(len(a)))
    return len(a) == len(b) and any(
        a[:i] + a[i + 1] + a[i] + a[i + 2 :] == b for i in range(len(a) - 1)
    )


def _kind_of_neighbour(concept: str, text: str) -> bool:
    """Whether `text` says `concept` just after a word it names the kind of ("yellow-colored"
    is yellow; WordNet's hypernyms): the word before says it all."""
    if not concept.isalpha():
        return False
    tokens = re.findall(r"[a-z]+", text.lower())
    return any(
        concept in {tok, *lexicon.lemmas(tok)} and lexicon.is_hypernym(concept, before)
        for before, tok in zip(tokens, tokens[1:], strict=False)
    )


def _only_function(concept: str, candidate: str, said_before: set[str]) -> bool:
    """Whether an added `concept` restates the original, or says only "reach" ("until you
    hit the road"), or only "be" as a participle after its noun ("the boat sitting at the
    dock" is the boat at the dock; "stay there" is an order of its own)."""
    if _restated(concept, said_before | {"reach"}, None):
        return True
    participles = {
        w for w in re.findall(r"[a-z]+ing\b", candidate.lower()) if concept in lexicon.lemmas(w)
    }
    return bool(participles) and _restated(concept, {"be"}, None)


def _negated_opposites(dropped: set[str], added: set[str]) -> tuple[set[str], set[str]]:
    """ "not sure" / "unsure": a negation and a word dropped on one side, one of its WordNet
    antonyms on the other, say the same; the negation goes with it (both directions)."""
    for neg_side, word_side in ((dropped, added), (added, dropped)):
        if "not" not in neg_side:
            continue
        for word in sorted(neg_side):
            opposite = {w for w in word_side if w in lexicon.opposites(word)}
            if word != "not" and opposite:
                neg_side -= {"not", word}
                word_side -= {min(opposite)}
                break
    return dropped, added


def _restated(concept: str, words: set[str], meant: str | None) -> bool:
    """Whether `words` and `concept` say the same, by WordNet: `concept` is what the
    original meant when `meant` is given (a dropped word: another word must say it),
    else what the candidate said (an added word: it must say one of `words`). Between
    two words the tables know (SYNONYMS, the spatial lexicon), the tables have decided
    already: WordNet is far wider ("turn" and "go" share a sense, so do "right" and
    "turn"), so it speaks only where one of the two words is outside them."""
    if not concept.isalpha():  # numbers, ordinals, clock positions: facts, not words
        return False
    table = _concept_table()[0]
    known = concept in table or concept in _table_concepts()
    return any(
        lexicon.same_sense(word, concept) if meant else lexicon.same_sense(concept, word)
        for word in words
        if word.isalpha()
        and not (known and (word in table or word in _table_concepts()) and not _verb_of(word))
    )


def _verb_of(word: str) -> bool:
    """Whether the tables read `word` only as a direction where it is also a verb of its
    own ("return" is backward, and it says "go back"): the tables decided its direction,
    not its verb, and WordNet may speak for that."""
    concept = _concept_table()[0].get(word)
    return (
        concept in spatial.DIRECTION_WORDS.values()
        and concept != word
        and lexicon.is_verb_first(word)
    )


@cache
def _table_concepts() -> frozenset[str]:
    return frozenset(_concept_table()[0].values())


def looped(original: str, candidate: str) -> set[str]:
    """Concepts inside a run of three that the candidate says twice and the original
    does not ("fly at your 10 o'clock and fly at your 10 o'clock"): a model's loop."""

    def runs(text: str) -> Counter:
        seq = concepts(text)
        return Counter(tuple(seq[i : i + 3]) for i in range(len(seq) - 2))

    before, after = runs(original), runs(candidate)
    return {c for run, n in after.items() if n > 1 and n > before[run] for c in run}


def repeated(original: str, candidate: str) -> list[str]:
    """Concepts the candidate says more often than the original ("fly at your 10 o'clock
    and fly at your 10 o'clock", "the destination is the destination", a second "right"):
    a small model's loops, and facts added where the set of facts stays the same."""
    before, after = Counter(concepts(original)), Counter(concepts(candidate))
    return sorted(c for c, n in after.items() if before[c] and n > before[c])


def doubled_words(text: str) -> int:
    """Words said twice in a row, spelling aside: a swap that writes the word beside it
    ("the tall building structure" -> "structure structure", "3:00 oclock" -> "three
    o'clock oclock") makes broken text."""
    # words and punctuation marks in order: "left. Left of" is no double
    tokens = re.findall(r"[a-z0-9']+|[^\sa-z0-9']", text.lower())
    words = [t.replace("'", "") for t in tokens]
    return sum(a == b and a.isalnum() for a, b in zip(words, words[1:], strict=False))
