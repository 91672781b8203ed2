"""The content check: every content word kept or replaced by an equivalent, none added."""

from config_defaults import THRESHOLDS

from contrastgen.language import content
from contrastgen.language.spatial import extract
from contrastgen.validation.validator import decide


def test_synonyms_spellings_and_clock_phrasing_are_the_same_word():
    same = [
        ("the goal is the grey structure next to the car park",
         "The destination is the gray building beside the parking lot."),
        ("go foward till the second crossroad", "Fly forward until the 2nd intersection."),
        ("turn to 7 hrs", "Turn to seven o'clock."),
        ("follow the 1 hour direction", "Follow the 1 o'clock direction."),
        ("go back a little", "Go back a bit."),
        ("after passing the tree, turn left", "Once you pass the tree, turn left."),
        ("the westernmost of five buildings", "the building farthest west of five"),
        ("Hi drone, thats the goal", "That's the goal."),
    ]  # fmt: skip
    for original, candidate in same:
        assert content.compare(original, candidate) == ([], []), (original, candidate)


def test_words_outside_the_spatial_lexicon_count():
    original = "land on the terminal entryway with dormers, the one nearest the shed"
    dropped, added = content.compare(original, "Land on the terminal, next to the shed.")
    assert {"entryway", "dormer", "nearest"} <= set(dropped)
    assert extract(original).values["landmark"] == ("shed",)  # the lexicon sees only this
    decision = decide(original, "Land on the terminal nearest the shed.", "positive", 0.9,
                      THRESHOLDS)  # fmt: skip
    assert not decision.valid
    assert {"code": "content_dropped", "words": ["dormer", "entryway"]} in decision.reasons


def test_clock_as_a_word_is_a_landmark_or_a_turn_not_a_clock_position():
    # a candidate with a bare "clock" once crashed the validate job (KeyError)
    assert content.concepts("fly to the clock tower at your 2 o'clock") == [
        "go", "clock", "tower", "clock2"]  # fmt: skip
    assert content.compare("turn right at the clock tower", "Turn clockwise at the tower.") == (
        ["clock", "right"], ["clockwise"])  # fmt: skip


def test_one_hour_is_a_clock_position_not_a_time():
    original = "follow the 1 hour direction and land on the red roof"
    assert extract(original).values["clock"] == (1,)
    decision = decide(original, "Follow it and you will reach the red roof in 1 hour.",
                      "positive", 0.9, THRESHOLDS)  # fmt: skip
    assert not decision.valid


def test_an_added_sentence_is_an_addition():
    original = "go to the white house at your 11 o'clock"
    decision = decide(original, "Go to the white house at your 11 o'clock. Land on the lawn.",
                      "positive", 0.9, THRESHOLDS)  # fmt: skip
    assert {r["code"] for r in decision.reasons} >= {"landmark_added"}
    decision = decide(original, "Go to the white house at your 11 o'clock, slowly and safely.",
                      "positive", 0.9, THRESHOLDS)  # fmt: skip
    assert {"code": "content_added", "words": ["safely", "slowly"]} in decision.reasons


def test_the_order_of_steps_is_a_fact():
    original = "keep moving forward until the end of the road, then turn left."
    decision = decide(original, "Turn left, then keep moving forward until the end of the road.",
                      "positive", 0.9, THRESHOLDS)  # fmt: skip
    assert [r["code"] for r in decision.reasons] == ["order_changed"]


def test_a_word_naming_the_kind_of_the_word_before_it_adds_nothing():
    assert content.compare("land on the red van", "land on the red-colored van") == ([], [])
    assert content.compare("land on the red-coloured van", "land on the red van") == ([], [])
    # a word of another kind there is still content
    assert content.compare("land on the red van", "land on the red metal van") == ([], ["metal"])


def test_a_direction_word_that_is_a_verb_of_its_own_says_its_verb():
    assert content.compare("go back to the gate", "return to the gate") == ([], [])
    # it says "go back", not another verb
    assert content.compare("land back at the gate", "return to the gate")[0] == ["land"]


def test_avoid_doing_is_do_not_do_and_far_away_is_far():
    assert content.compare("do not land on the shed", "avoid landing on the shed") == ([], [])
    assert content.compare("do not land on the shed", "try landing on the shed") != ([], [])
    assert content.compare("the mast is not far", "the mast is not far away") == ([], [])


def test_every_modal_auxiliary_is_a_function_word():
    assert content.compare(
        "the mast should be easy to see", "the mast ought to be easy to see"
    ) == (
        [],
        [],
    )
    assert content.compare("the mast should be easy to see", "the mast ought to be hard to see")[
        0
    ] == ["easy"]


def test_a_hyphenated_form_of_the_tables_is_one_word():
    assert content.compare("make a u-turn and land", "after making a u-turn, land") == ([], [])
    assert content.compare("make a u-turn and land", "make a left turn and land") != ([], [])
