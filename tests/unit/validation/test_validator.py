import pytest

from contrastgen.settings import Thresholds
from contrastgen.validation.validator import decide

T = Thresholds(0.7, 0.6, 0.995, 2.5, 1)
ORIGINAL = "Turn to your 3 o'clock and land on the red house next to the road."


def codes(result):
    return [r["code"] for r in result.reasons]


def test_faithful_positive_is_valid():
    r = decide(
        ORIGINAL,
        "Face three o'clock and land on the red home beside the street.",
        "positive",
        0.85,
        T,
    )
    assert r.valid, r


def test_positive_that_changes_a_fact_is_not_valid():
    r = decide(
        ORIGINAL,
        "Turn to your 9 o'clock and land on the red house next to the road.",
        "positive",
        0.9,
        T,
    )
    assert not r.valid and r.reasons == [{"code": "clock_changed", "from": 3, "to": 9}]


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
    assert good.valid and good.reasons == [{"code": "color_changed", "from": "red", "to": "blue"}]
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
    assert fixed.valid, fixed.reasons
    # a real word one letter away is another landmark, not a slip
    other = decide(
        "Fly east, the goal is the white bush next to the gate.",
        "Head east; the target is the white bus beside the gate.",
        "positive",
        0.9,
        T,
    )
    assert not other.valid


# Recall on heldout3's classes of miss (issue 33), each beside the change it must still
# catch. The originals and rewordings are invented here in the same patterns.
@pytest.mark.parametrize(
    ("original", "faithful", "changed"),
    [
        # a manner verb or abstract noun reworded: wording, not a fact ...
        ("Fly west and follow the railway to the grey shed.",
         "Fly west along the rail line to the grey shed.",
         "Fly west along the rail line to the grey shed slightly."),  # ... a degree adverb is
        # a negation in a contraction reads as "not"
        ("It is not in view yet, keep flying straight.",
         "Keep flying straight, it isn't in view yet.",
         "Keep flying straight, it is in view now."),
        # not there yet: the arrival still to come, however it is said
        ("Not there yet. Keep going east past the roundabout.",
         "You haven't arrived yet; keep going east past the roundabout.",
         "You have arrived; keep going east past the roundabout."),
        # a road, bridge or river one is over has been crossed
        ("After you cross the bridge, turn to your 2 o'clock.",
         "Once you're over the bridge, turn to your 2 o'clock.",
         "Before you cross the bridge, turn to your 2 o'clock."),
        # "it's right below you" places it; it affirms nothing ...
        ("its right below you, the one with the green roof",
         "It's directly beneath you, the one that has a green roof.",
         "It's almost right below you, the one with the green roof."),  # ... "almost" counts
        # "turn back" is "turn around"; "go back" stays a step back
        ("Turn around to your 6 o'clock, the goal is the grey building.",
         "Turn back toward your 6 o'clock; the grey building is the goal.",
         "Turn left toward your 6 o'clock; the grey building is the goal."),
        # "in the right area" is progress, not the direction right
        ("You are in the right area. The goal is the white house on your left.",
         "You're in the correct area. The target is the white house on your left.",
         "You're in the correct area. The target is the white house on your right."),
    ],
)  # fmt: skip
def test_restructured_rewordings_keep_their_facts(original, faithful, changed):
    assert decide(original, faithful, "positive", 0.8, T).valid, faithful
    assert not decide(original, changed, "positive", 0.8, T).valid, changed


def test_a_goal_named_may_be_added_but_not_dropped():
    original = "ok you passed it, go back a little. it is the dark roof building"
    named = "You have overshot it, so move back a bit. The target is the building with a dark roof."
    assert decide(original, named, "positive", 0.8, T).valid
    original = "Move forward and find the black roof building. That is our destination."
    dropped = "Move forward and find the black roof building."
    assert not decide(original, dropped, "positive", 0.8, T).valid


@pytest.mark.parametrize(
    ("original", "faithful"),
    [
        # a size, ordinal or relation said by a word WordNet gives the same sense
        ("The goal is the tallest building there.", "The goal is the highest building there."),
        ("The destination is the last one in the row.",
         "The destination is the final one in that row."),
        ("Three buildings in a row, the goal is the one in the middle.",
         "Three buildings stand in a row, and the goal is the central one."),
        # the goal named after a colon, or before "that is your destination"
        ("The destination is the long warehouse right after the field.",
         "Right after that field is the goal: a long warehouse."),
        # "the lot" names the parking lot again
        ("You will see a parking lot, the goal is the building on the north side of it.",
         "A parking lot comes into view; the goal is the building north side of that lot."),
    ],
)  # fmt: skip
def test_facts_said_in_other_words_are_kept(original, faithful):
    assert decide(original, faithful, "positive", 0.8, T).valid, faithful


def test_an_opposite_is_no_other_word_for_a_size():
    original = "The goal is the tallest building there."
    r = decide(original, "The goal is the shortest building there.", "positive", 0.8, T)
    assert not r.valid


def test_an_ordinal_past_the_count_is_a_self_contradiction():
    original = "You will see two houses, the destination is the one on the left."
    bad = "You will see two houses, the destination is the third one."
    assert "self_contradiction" in codes(decide(original, bad, "negative", 0.9, T))
    good = "You will see two houses, the destination is the one on the right."
    assert decide(original, good, "negative", 0.9, T).valid


@pytest.mark.parametrize(
    ("original", "changed"),
    [
        # read in the dev run (docs/benchmarks.md): an order to look made a prediction ...
        ("turn around and fly forward, look for a house.",
         "Turn around and fly forward. You will see a house."),
        # ... and an aim and a loop added beside the facts
        ("move to your 9 o clock and land at the house.",
         "Fly to your 9 o clock and land at the house. The goal is to land on the house; "
         "the house is the house."),
    ],
)  # fmt: skip
def test_a_positive_that_adds_an_aim_or_drops_an_order_is_rejected(original, changed):
    assert not decide(original, changed, "positive", 0.8, T).valid, changed


# Found in review: what a positive may reword stays narrow.
@pytest.mark.parametrize(
    ("original", "changed"),
    [
        ("The goal is the field with the cows.", "The goal is the field with the horses."),
        ("Fly toward the smoke and land on the red roof.",
         "Fly toward the fire and land on the red roof."),
        ("Approach the tower, then turn left.", "Leave the tower, then turn left."),
        ("I think it is the red house.", "It is the red house."),
        ("Go past the barn to the house.", "Go past the barn to the house; the barn is the goal."),
        ("Land on the last house in the row.", "Land on the lowest house in the row."),
        ("Land on the house over the road.", "Land on the house, the road is finished."),
    ],
)  # fmt: skip
def test_things_hedges_goals_and_prepositions_are_not_wording(original, changed):
    assert not decide(original, changed, "positive", 0.8, T).valid, changed


def test_a_negative_reads_its_change_as_the_lexicon_does():
    # "enormous" restates "huge" for a positive only: here it hides a second change
    original = "Land on the huge house left of the tower."
    two = "Land on the house right of the enormous tower."
    assert not decide(original, two, "negative", 0.8, T).valid


def test_an_ordinal_of_other_things_is_no_contradiction():
    original = "You will see two houses and a row of trees, the goal is the first tree."
    good = "You will see two houses and a row of trees, the goal is the third tree."
    assert "self_contradiction" not in codes(decide(original, good, "negative", 0.9, T))


def test_right_before_a_place_word_affirms_nothing():
    original = "It's right up ahead, the red house."
    assert not decide(original, "That's it, the red house up ahead.", "positive", 0.8, T).valid
