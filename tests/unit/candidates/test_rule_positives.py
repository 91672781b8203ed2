"""Rule-made positives: each edit keeps every fact and content word, and the validator
accepts what they write."""

import json
import random
from pathlib import Path

import pytest
from config_defaults import THRESHOLDS

from contrastgen.candidates.rule_positives import (
    clock_spelling,
    drop_filler,
    reorder_sentences,
    rule_based_positives,
    swap_destination,
    swap_synonyms,
)
from contrastgen.language.text import word_edits
from contrastgen.validation.validator import decide

RNG = random.Random(0)
DEV = Path(__file__).parents[3] / "resources" / "corpus" / "dev.jsonl"


@pytest.mark.parametrize(
    ("edit", "original", "expected"),
    [
        (clock_spelling, "turn to your 7'o clock", "turn to your seven o'clock"),
        (clock_spelling, "It is at your ten o'clock", "It is at your 10 o'clock"),
        (clock_spelling, "follow the 1 hour direction", "follow the one o'clock direction"),
        (drop_filler, "Hi drone, fly north. ok, land there.", "Fly north. Land there."),
        (swap_destination, "go west, the destination is the third house.",
         "go west, the third house is the destination."),
        (swap_destination, "A red house is your goal.", "Your goal is a red house."),
        (reorder_sentences, "Head north west. Your destination is a long building.",
         "Your destination is a long building. Head north west."),
    ],
)  # fmt: skip
def test_each_edit(edit, original, expected):
    assert edit(original, RNG) == expected


def test_edits_that_would_change_the_meaning_are_not_made():
    # the order of route steps, and a yes / no in front, stay where they are
    assert reorder_sentences("Turn left. Then go straight.", RNG) is None
    assert reorder_sentences("Yes. Head north.", RNG) is None
    # "go" is swapped only as an order; "near." is not "close to."
    assert swap_synonyms("you will go past it", RNG) is None
    assert "close to" not in (swap_synonyms("Yes you are near. Go north.", RNG) or "")
    # a last sentence without its stop would run into the first
    assert reorder_sentences("Your goal is a long building. head north west", RNG) is None


def test_a_rewrite_that_writes_a_word_twice_is_not_kept():
    """ "the tall building structure" -> "the tall structure structure", "3:00 oclock" ->
    "three o'clock oclock": the swap would double a word, so no such positive is made."""
    for original in (
        "it is the tall building structure",
        "turn to 3:00 oclock and go",
        "turn to 3:00 o clock and go",
        "turn to 3:00 hours and go",
    ):
        for seed in "abcdef":
            for _, text in rule_based_positives(original, 4, seed):
                words = text.lower().replace("'", "").split()
                assert all(a != b for a, b in zip(words, words[1:], strict=False)), text
                after = text.partition("o'clock")[2].split()
                assert not after or after[0] not in ("clock", "o", "hours"), text


def test_the_same_word_across_a_full_stop_is_no_double():
    from contrastgen.language.content import doubled_words

    assert doubled_words("Turn left. Left of the road is the house.") == 0
    assert doubled_words("the tall structure structure") == 1
    assert doubled_words("three o'clock oclock") == 1


def test_rule_positives_are_distinct_and_pass_the_validator():
    """On the 64 dev answers: every rule positive keeps every fact and content word."""
    rows = [json.loads(line)["instruction"] for line in DEV.read_text().splitlines()]
    made = rejected = 0
    for original in rows:
        positives = rule_based_positives(original, 2, original)
        assert len({p for _, p in positives}) == len(positives)
        for _, text in positives:
            made += 1
            assert word_edits(original, text) > 0
            decision = decide(original, text, "positive", 0.9, THRESHOLDS)
            rejected += not decision.valid
    assert made >= 90
    assert rejected / made <= 0.05, (rejected, made)
