"""Text as the package compares it."""

from contrastgen.language.text import normalise, same_text, word_edits


def test_normalise_whitespace_quotes_and_unicode():
    assert normalise("  Turn\u00a0to your 3 o\u2019clock\t\n now ") == "Turn to your 3 o'clock now"
    assert normalise("go\u200b left") == "go left"


def test_texts_compare_as_lower_case_words_without_punctuation():
    assert same_text("Turn LEFT, now!", "turn left now")
    assert not same_text("turn left", "turn right")
    assert word_edits("turn left at the house", "turn right at the red house") == 2
