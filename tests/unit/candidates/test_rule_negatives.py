import random

from config_defaults import THRESHOLDS

from contrastgen.candidates.rule_negatives import EDITS, rule_based_negatives
from contrastgen.language import dialogue
from contrastgen.language.spatial import compare, extract
from contrastgen.validation.validator import decide


def test_each_rule_negative_changes_exactly_the_fact_it_edits():
    original = "Yes, turn left to your 7 o'clock, fly north to the two red houses."
    negatives = rule_based_negatives(original, limit=len(EDITS), seed="x")
    edits = {name for name, _ in negatives}
    assert edits == {
        "flip_direction",
        "move_clock",
        "swap_cardinal",
        "swap_color",
        "swap_landmark",
        "change_count",
        "flip_polarity",
    }
    family = {
        "flip_direction": "direction",
        "move_clock": "clock",
        "swap_cardinal": "cardinal",
        "swap_color": "color",
        "swap_landmark": "landmark",
        "change_count": "count",
    }
    for name, text in negatives:
        if name == "flip_polarity":
            continue  # a dialogue act: the test below
        reasons = compare(extract(original), extract(text))
        assert [r["code"] for r in reasons] == [f"{family[name]}_changed"], (name, text)


def test_act_flips_change_exactly_that_act_and_pass_the_validator():
    cases = {
        "flip_polarity": ("Yes, land on the red roof.", "polarity"),
        "flip_progress": ("you are in the right direction, keep going north", "progress"),
        "flip_visibility": ("you can see it now, it is the gym at your 2 o'clock", "visibility"),
    }
    for name, (original, act) in cases.items():
        text = dict(rule_based_negatives(original, len(EDITS), "s"))[name]
        reasons = dialogue.compare(dialogue.extract(original), dialogue.extract(text))
        assert [r["code"] for r in reasons] == [f"{act}_changed"], (name, text)
        assert decide(original, text, "negative", 0.95, THRESHOLDS).valid, text


def test_clock_moves_by_three_to_six_hours_and_keeps_its_spelling():
    for seed in "abcdefgh":
        [(name, text)] = [
            n for n in rule_based_negatives("turn to ten o'clock", 6, seed) if n[0] == "move_clock"
        ]
        new = extract(text).values["clock"][0]
        assert (new - 10) % 12 in (3, 4, 5, 6) and "o'clock" in text


def test_right_meaning_correct_is_not_flipped_and_seeds_repeat():
    negatives = dict(rule_based_negatives("You are on the right track, go to the pool", 6, "s"))
    assert "flip_direction" not in negatives
    assert rule_based_negatives("turn left at the red car", 2, "k") == rule_based_negatives(
        "turn left at the red car", 2, "k"
    )


def test_a_roofed_landmark_is_swapped_only_for_another_roofed_kind():
    from contrastgen.candidates.rule_negatives import swap_landmark

    for seed in range(20):
        rng = random.Random(seed)
        text = swap_landmark("it is the warehouse with a green roof, near the field", rng)
        assert text.split()[3] in {"house", "tower", "shed"}, text
    # A "building" with a roof has no roofed kind that surely differs from it: no edit.
    assert swap_landmark("the building with the black roof", random.Random(0)) is None
    # Without a roof in its sentence, any other landmark will do.
    swapped = {
        swap_landmark("stop at the tree. The roof is red", random.Random(s)) for s in range(20)
    }
    assert any(t.split()[3].rstrip(".") in {"car", "road", "field"} for t in swapped)


def test_a_structure_becomes_only_another_structure_and_a_building_is_passed_over():
    """Read in the dev run's kept negatives: "a brown warehouse" -> "a brown truck" and "a
    round building" -> "a round car" make the goal nonsense, not a hard negative."""
    from contrastgen.candidates.rule_negatives import swap_landmark
    from contrastgen.language.spatial import BUILDING_KINDS

    for seed in range(20):
        text = swap_landmark("destination is at 3 o'clock, a brown warehouse", random.Random(seed))
        assert text.split()[-1] in BUILDING_KINDS - {"warehouse"}, text
        # the generic "building" has no swap: the next landmark is swapped instead
        text = swap_landmark("the building which is near the trees", random.Random(seed))
        assert text.startswith("the building which is near the ") and text.split()[-1] != "trees"
    assert swap_landmark("Go northeast till you see a round building.", random.Random(0)) is None


def test_act_flips_that_would_contradict_the_rest_are_not_made():
    negatives = dict(rule_based_negatives("No, not that one. Turn around and go back.", 9, "s"))
    assert "flip_polarity" not in negatives
    keep_on = "you are in the right direction, keep going straight and stop near the crossing"
    assert "flip_progress" not in dict(rule_based_negatives(keep_on, 9, "s"))
    # without the order to keep on, the flip is a hard negative
    assert "flip_progress" in dict(rule_based_negatives("you are in the right direction", 9, "s"))


def test_a_landmark_inside_a_compound_is_not_swapped():
    from contrastgen.candidates.rule_negatives import swap_landmark

    for seed in range(10):
        text = swap_landmark("Go to the cargo ship near the field.", random.Random(seed))
        assert text.startswith("Go to the cargo ship near the ") and "field" not in text, text
    assert swap_landmark("land on the water tower", random.Random(0)) is None
    # the first noun of a compound too: "the pool house" is no "shed house"
    for seed in range(10):
        text = swap_landmark("the pool house near the road", random.Random(seed))
        assert text.startswith("the pool house near the ") and "road" not in text, text
    # a roof in any spelling is part of its landmark, never swapped itself
    text = swap_landmark("land on the rooftops near the field", random.Random(0))
    assert text.startswith("land on the rooftops near the ") and "field" not in text, text


def test_a_yes_the_rest_of_the_answer_repeats_is_not_flipped():
    """ "Yes, you are there already" -> "No, you are there already" contradicts itself."""
    for answer in (
        "Yes, you are there already",
        "Yes, it is in your view",
        "Yes, that's it.",
        "No, that is not the one. Go left.",  # a yes before it would contradict it
        "No, wrong building. Go left.",
    ):
        assert "flip_polarity" not in dict(rule_based_negatives(answer, len(EDITS), "s")), answer
