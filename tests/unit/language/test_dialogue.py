"""Dialogue acts, person and mood: one test per act, and the failure modes of issue 23
(an LLM positive that adds a correction, an affirmation, drops the yes / no, narrates)."""

import pytest
from config_defaults import THRESHOLDS

from contrastgen.language import dialogue
from contrastgen.validation.validator import decide


def acts(text: str) -> dict:
    return {a: v for a, v in dialogue.extract(text).values.items() if v}


@pytest.mark.parametrize(
    ("text", "act", "value"),
    [
        ("Yes, go to your 2 o'clock.", "polarity", "yes"),
        ("yes thats correct. now fly forward", "polarity", "yes"),
        ("No, not that one. Turn around.", "polarity", "no"),
        ("Nope. Turn 3 o'clock", "polarity", "no"),
        ("the house at your 7 o'clock is not it", "polarity", "no"),
        ("You are going the wrong way, turn around.", "progress", "wrong way"),
        ("you are on the wrong track. go south", "progress", "wrong way"),
        ("you are in the right direction, keep going", "progress", "right way"),
        ("You are on the right track. head north", "progress", "right way"),
        ("Almost there. It is at your 11 o'clock.", "progress", "close"),
        ("Yes you are near. Look at your 4 o'clock", "progress", "close"),
        ("You went too far. Go back.", "progress", "too far"),
        ("No, it is not in your view yet, turn to your 4 o'clock", "visibility", "not in view"),
        ("you cannot see it yet, keep going", "visibility", "not in view"),
        ("Yes you can see it. Go in the 5 o'clock direction.", "visibility", "in view"),
        ("You are there, land now.", "arrival", "arrived"),
        ("That's it: the destination is at your 9 o'clock.", "affirmation", "that is it"),
        ("That is the destination. The goal is at your left.", "affirmation", "that is it"),
        ("I'll turn right to reach it.", "person", "first"),
        ("You are turning right to reach it.", "mood", "narration"),
        ("You are at your 11 oclock, near the parking.", "mood", "narration"),
        ("Turn right to reach it.", "mood", "instruction"),
        ("once you pass the tree turn left", "mood", "instruction"),
        ("Hello, you need to head south east.", "mood", "instruction"),
    ],
)
def test_each_act_is_read(text, act, value):
    assert value in acts(text).get(act, ()), acts(text)


def test_what_only_names_the_goal_or_sounds_like_an_act_is_not_one():
    # a goal named at the end, not an affirmation of what the drone sees
    assert "affirmation" not in acts("a red house, that is your destination.")
    # "the right side" is a direction, not progress; "no" inside a sentence is no answer
    assert acts("the goal is on the right side, there is no road") == {}
    # "I think" is a hedge, not the drone's voice; "you will see" is no narration
    assert acts("I think you will see it") == {}


ORIGINAL = "Destination is the gray shed at your two o'clock."


@pytest.mark.parametrize(
    ("original", "candidate", "code"),
    [
        (ORIGINAL, "You are going the wrong way. The destination is at your 2 o'clock, the gray "
         "shed.", "progress_added"),
        (ORIGINAL, "That's it: the destination is the gray shed at your 2 o'clock.",
         "affirmation_added"),
        (ORIGINAL, "Yes, the destination is the gray shed at your 2 o'clock.", "polarity_added"),
        ("No, it is not in your view yet, turn to your 4 o'clock", "Turn to your 4 o'clock.",
         "polarity_dropped"),
        ("No, it is not in your view yet, turn to your 4 o'clock", "No, turn to your 4 o'clock.",
         "visibility_dropped"),
        ("Nope. Turn 3 o'clock", "Turn 3 o'clock.", "polarity_dropped"),
        ("Turn right to reach it", "You are turning right to reach it.", "mood_changed"),
        ("Turn right to reach it", "I'll turn right to reach it.", "person_added"),
        ("its at your 8 oclock, near the road.", "You are at your 8 o'clock, near the road.",
         "mood_added"),
    ],
)  # fmt: skip
def test_a_positive_that_changes_an_act_is_rejected_with_its_reason(original, candidate, code):
    decision = decide(original, candidate, "positive", 0.9, THRESHOLDS)
    assert not decision.valid
    assert code in [r["code"] for r in decision.reasons], decision.reasons


def test_a_negative_may_flip_one_act_but_not_two():
    original = "yes you are on the right way, go forward and land on the red house."
    # "No, you are on the right way" contradicts itself: no guide answers that (issue 33)
    alone = decide(original, original.replace("yes", "no", 1), "negative", 0.95, THRESHOLDS)
    assert {"code": "self_contradiction"} in alone.reasons
    plain = "yes, go forward and land on the red house."
    one = decide(plain, plain.replace("yes", "no", 1), "negative", 0.95, THRESHOLDS)
    assert one.valid, one.reasons
    assert one.reasons == [{"code": "polarity_changed", "from": "yes", "to": "no"}]
    two = decide(
        original,
        original.replace("yes", "no", 1).replace("right way", "wrong way"),
        "negative",
        0.95,
        THRESHOLDS,
    )
    assert [r["code"] for r in two.reasons][:1] == ["several_changes"]


def test_close_after_any_word_of_degree_is_progress():
    original = "You are very close. Land on the grey shed."
    for faithful in ("You're really near. Land on the gray shed.",
                     "You are extremely close; land on the grey shed."):  # fmt: skip
        assert acts(faithful)["progress"] == ("close",)
        r = decide(original, faithful, "positive", 0.9, THRESHOLDS)
        assert r.valid, r.reasons
    # the act dropped is still a change
    dropped = decide(original, "Land on the grey shed now.", "positive", 0.9, THRESHOLDS)
    assert "progress_dropped" in [x["code"] for x in dropped.reasons]


def test_a_clause_that_opens_with_any_bare_verb_is_an_order():
    for text in (
        "Hover above the silo.",
        "Great, now carry on ahead.",
        "Don't hurry, it is close.",
    ):
        assert "instruction" in acts(text)["mood"], text
    # a noun first, or the drone told what it is doing, is no order
    for text in ("House with a red roof, at the corner.", "You are hovering above the silo."):
        assert "instruction" not in acts(text).get("mood", ()), text
    original = "Keep going ahead and hover above the silo."
    faithful = decide(
        original, "Carry on ahead and hover over the silo.", "positive", 0.9, THRESHOLDS
    )
    assert faithful.valid, faithful.reasons
    narrated = decide(original, "You are hovering above the silo.", "positive", 0.9, THRESHOLDS)
    assert not narrated.valid


def test_its_not_the_goal_without_an_apostrophe_is_a_no():
    assert acts("go east, its not the destination")["polarity"] == ("no",)
    assert acts("go east, it's not the destination")["polarity"] == ("no",)
    assert not acts("go east, its the destination").get("polarity")


def test_be_careful_is_an_order_as_take_care_is():
    assert "instruction" in acts("Be careful near the kiosk.")["mood"]
    r = decide(
        "Be careful near the kiosk.", "Take care near the kiosk.", "positive", 0.9, THRESHOLDS
    )
    assert r.valid, r.reasons
    other = decide(
        "Be careful near the kiosk.", "Take off near the kiosk.", "positive", 0.9, THRESHOLDS
    )
    assert not other.valid
