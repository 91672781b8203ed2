from contrastgen.settings import Thresholds
from contrastgen.validator import decide

T = Thresholds(0.7, 0.6, 0.995, 2.5, 1)
ORIGINAL = "Turn to your 3 o'clock and land on the red house next to the road."


def codes(result):
    return [r["code"] for r in result["reasons"]]


def test_faithful_positive_is_valid():
    r = decide(
        ORIGINAL,
        "Face three o'clock and land on the red home beside the street.",
        "positive",
        0.85,
        T,
    )
    assert r["valid"], r


def test_positive_that_changes_a_fact_is_not_valid():
    r = decide(
        ORIGINAL,
        "Turn to your 9 o'clock and land on the red house next to the road.",
        "positive",
        0.9,
        T,
    )
    assert not r["valid"] and r["reasons"] == [{"code": "clock_changed", "from": 3, "to": 9}]


def test_copies_meta_text_and_off_topic_are_rejected():
    assert "identical" in codes(decide(ORIGINAL, ORIGINAL.upper() + " ", "positive", 1.0, T))
    assert "meta_text" in codes(
        decide(
            ORIGINAL,
            "Here is the rewritten instruction: turn to your 3 o'clock and land "
            "on the red house next to the road",
            "positive",
            0.9,
            T,
        )
    )
    assert "off_topic" in codes(
        decide(ORIGINAL, "Turn to your 3 o'clock red house road", "positive", 0.4, T)
    )


def test_negative_needs_a_spatial_change_not_only_a_drop():
    good = decide(
        ORIGINAL,
        "Turn to your 3 o'clock and land on the blue house next to the road.",
        "negative",
        0.93,
        T,
    )
    assert good["valid"] and good["reasons"] == [
        {"code": "color_changed", "from": "red", "to": "blue"}
    ]
    same = decide(
        ORIGINAL,
        "Go to your 3 o'clock and land on the red house next to the road.",
        "negative",
        0.97,
        T,
    )
    # no fact changed, and "go" for "turn" is a content change beside no fact
    assert codes(same) == ["no_spatial_change", "content_changed"]
    drop = decide(
        ORIGINAL,
        "Turn to your 3 o'clock and land on the house next to the road.",
        "negative",
        0.95,
        T,
    )
    assert codes(drop) == ["only_dropped"]


def test_a_landmark_misspelt_in_the_original_and_spelt_right_is_no_new_landmark():
    original = "Fly east, the goal is the white trukc next to the gate."
    fixed = decide(
        original, "Head east; the target is the white truck beside the gate.", "positive", 0.9, T
    )
    assert fixed["valid"], fixed["reasons"]
    # a real word one letter away is another landmark, not a slip
    other = decide(
        "Fly east, the goal is the white bush next to the gate.",
        "Head east; the target is the white bus beside the gate.",
        "positive",
        0.9,
        T,
    )
    assert not other["valid"]
