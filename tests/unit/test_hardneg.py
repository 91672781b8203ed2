import random

from config_defaults import THRESHOLDS

from contrastgen import dialogue
from contrastgen.hardneg import EDITS, rule_based_negatives
from contrastgen.spatial import compare, extract
from contrastgen.validator import decide


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
        assert decide(original, text, "negative", 0.95, THRESHOLDS)["valid"], text


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
    from contrastgen.hardneg import swap_landmark

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
