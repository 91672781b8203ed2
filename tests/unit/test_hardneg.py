from contrastgen.hardneg import rule_based_negatives
from contrastgen.spatial import compare, extract


def test_each_rule_negative_changes_exactly_the_fact_it_edits():
    original = "Yes, turn left to your 7 o'clock, fly north to the two red houses."
    negatives = rule_based_negatives(original, limit=6, seed="x")
    edits = {name for name, _ in negatives}
    assert edits == {
        "flip_direction",
        "move_clock",
        "swap_cardinal",
        "swap_color",
        "swap_landmark",
        "change_count",
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
        reasons = compare(extract(original), extract(text))
        assert [r["code"] for r in reasons] == [f"{family[name]}_changed"], (name, text)


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
