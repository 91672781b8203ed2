"""What a good model writes, recognised with WordNet (issue 33): each miss class of the
issue, the antonym guard, and the tables deciding between the words they know."""

import pytest
from config_defaults import THRESHOLDS

from contrastgen.language import content, lexicon, spatial
from contrastgen.validation.validator import decide


def _positive(original: str, candidate: str) -> dict:
    return decide(original, candidate, "positive", 0.9, THRESHOLDS)


@pytest.mark.parametrize(
    ("original", "candidate"),
    [
        # an ordinary synonym outside any table
        ("Please land on the biggest roof.", "Land on the largest roof."),
        ("hi, move forward and find the building with the black roof.",
         "Fly ahead and locate the building with the black roof."),
        ("Fly south and stop at the parking area.", "Fly in a southerly direction and halt at "
         "the parking area."),
        # a verb said more generally, a contraction
        ("go back, the goal is behind the trees.", "Head back; the goal lies behind the trees."),
        ("Fly east and you will find the destination.", "Fly east and you'll find the goal."),
    ],
)  # fmt: skip
def test_a_faithful_rewording_with_words_outside_the_tables_is_accepted(original, candidate):
    decision = _positive(original, candidate)
    assert decision.valid, decision.reasons


def test_words_are_read_in_their_dictionary_form():
    # WordNet's lemma where it knows the word, not the light stem's "com" or "slop"
    assert content.concepts("it comes nearer") == ["come", "nearer"]
    assert content.concepts("a sloped roof") == ["slope", "roof"]


def test_the_antonym_guard_never_takes_an_opposite_for_a_synonym():
    assert lexicon.same_sense("vacant", "empty")
    assert not lexicon.same_sense("empty", "full")
    assert not lexicon.same_sense("inside", "outside")
    assert not lexicon.same_sense("upper", "lower")
    dropped, added = content.compare("the lot is empty", "the lot is full")
    assert dropped == ["empty"] and added == ["full"]


def test_a_superlative_keeps_its_degree():
    assert lexicon.same_sense("largest", "biggest")
    assert not lexicon.same_sense("biggest", "large")
    assert not lexicon.same_sense("nearest", "next")


def test_the_tables_decide_between_the_words_they_know():
    # WordNet gives "turn" and "go" a shared sense; the curated table keeps them apart
    assert lexicon.same_sense("turn", "go")
    assert content.compare("go to your 3 o'clock", "turn to your 3 o'clock") == (["go"], ["turn"])


@pytest.mark.parametrize(
    ("original", "candidate"),
    [
        ("Go to the only red house.", "Head to the red house."),
        # "just" shares a WordNet sense with "only"; a closed-class word matches itself
        ("Go to the only red house.", "Just head to the red house."),
        # ... and a word the original had already stands in for nothing
        ("fly forward just a bit and land on the only red house",
         "fly ahead just a bit and land on the red house"),
        # a negation spelled out from a contraction is content
        ("Don't turn left, go straight to the tower.", "Turn left, go straight to the tower."),
        # a general verb loses what the specific one told
        ("descend near the white house", "move near the white house"),
    ],
)  # fmt: skip
def test_a_qualifier_a_negation_or_a_specific_verb_dropped_is_still_a_drop(original, candidate):
    decision = _positive(original, candidate)
    assert not decision.valid
    assert "content_dropped" in [r["code"] for r in decision.reasons], decision.reasons


def test_a_specific_verb_restates_a_general_one_not_the_other_way():
    assert lexicon.same_sense("locate", "find")
    assert not lexicon.same_sense("come", "land")


def test_come_across_is_find_only_before_a_thing_not_a_crossing():
    crossing = _positive(
        "come across the bridge and land on the red house",
        "come to the bridge and land on the red house",
    )
    assert "relation_dropped" in [r["code"] for r in crossing.reasons]


def test_an_attribute_moved_to_another_landmark_is_a_change():
    original = "it is a grey building beside a small pond."
    assert spatial.bindings(original) == {("gray", "building"), ("small", "lake")}
    decision = _positive(original, "It is a small grey building beside a pond.")
    assert {"code": "binding_changed", "value": "small", "from": "lake", "to": "building"} in (
        decision.reasons
    )
    assert _positive(original, "It is a building in grey next to a small pond.").valid


def test_a_landmark_named_by_its_kind_is_no_contrast():
    original = "the destination looks like 2 tanks near the big field."
    vaguer = decide(original, original.replace("tanks", "containers"), "negative", 0.9, THRESHOLDS)
    assert "not_a_contrast" in [r["code"] for r in vaguer.reasons]
    other = decide(original, original.replace("tanks", "towers"), "negative", 0.9, THRESHOLDS)
    assert other.valid, other.reasons


def test_a_condition_is_not_narration():
    decision = _positive(
        "Continue straight, then at the roundabout go to the 2 clock direction",
        "Keep going straight, then once you are at the roundabout, fly toward 2 o'clock.",
    )
    assert "mood_added" not in [r["code"] for r in decision.reasons], decision.reasons


@pytest.mark.parametrize(
    ("original", "candidate"),
    [
        ("Great. go straight and the destination is the tall building.",
         "Great! Keep going straight - your goal is the tall building."),
        ("Now fly over the road. The destination is a warehouse.",
         "Now fly across the road; the destination is a warehouse."),
        ("turn around and fly forward, look for a house.",
         "Face the other way and head forward. Watch for a house."),
        ("keep going a bit more to the north", "continue a little further north"),
    ],
)  # fmt: skip
def test_a_step_said_another_way_is_the_same_step(original, candidate):
    decision = _positive(original, candidate)
    assert decision.valid, decision.reasons


def test_the_goal_moved_to_another_landmark_of_the_answer_is_a_change():
    original = "The destination is a warehouse next to the empty field."
    assert spatial.goal(original) == "warehouse"
    assert spatial.goal("A blue-roofed warehouse beside the road is the destination.") == (
        "warehouse"
    )
    swapped = _positive(original, "The destination is an empty field next to the warehouse.")
    assert {"code": "goal_changed", "from": "warehouse", "to": "field"} in swapped.reasons
    turned = _positive(original, "An empty field lies next to the warehouse, which is the goal.")
    assert turned.valid, turned.reasons


def test_an_ordered_step_only_predicted_is_a_change_of_mood():
    decision = _positive(
        "hi, move forward and find the building with the black roof.",
        "Move forward and you will find the building with the black roof.",
    )
    assert "mood_changed" in [r["code"] for r in decision.reasons]


@pytest.mark.parametrize(
    ("original", "candidate", "fact"),
    [
        ("turn around and fly forward, look for a house.",
         "turn around and fly forward, look for a barn.", "landmark_changed"),
        ("destination is the building with a flat grey roof",
         "destination is the building with a sloped grey roof", "attribute_changed"),
    ],
)  # fmt: skip
def test_a_negative_may_change_a_landmark_or_attribute_no_lexicon_lists(original, candidate, fact):
    decision = decide(original, candidate, "negative", 0.9, THRESHOLDS)
    assert decision.valid, decision.reasons
    assert [r["code"] for r in decision.reasons] == [fact]


def test_a_negative_that_names_the_landmark_by_its_kind_is_no_contrast():
    original = "turn left until the road. the goal is a large truck at the end of the road."
    decision = decide(original, original.replace("truck", "vehicle"), "negative", 0.9, THRESHOLDS)
    assert "not_a_contrast" in [r["code"] for r in decision.reasons]


@pytest.mark.parametrize(
    ("original", "candidate"),
    [
        ("go south-west until the road and the goal is a small white roof.",
         "go south-west until the road heading north-east and the goal is a small white roof."),
        ("Continue straight, then at the roundabout go to the 2 clock direction",
         "Continue straight to the left, then at the roundabout go to the 2 clock direction"),
        ("yes thats correct. now fly forward and land at the white building.",
         "no thats correct. now fly forward and land at the white building."),
        # read in the dev run's kept negatives
        ("No, not that one. Turn around and go back, the destination is behind you.",
         "Yes, not that one. Turn around and go back, the destination is behind you."),
        ("you are in the right direction, keep going straight and stop near the intersection",
         "you are in the wrong direction, keep going straight and stop near the intersection"),
    ],
)  # fmt: skip
def test_a_negative_that_contradicts_itself_is_rejected(original, candidate):
    decision = decide(original, candidate, "negative", 0.9, THRESHOLDS)
    assert {"code": "self_contradiction"} in decision.reasons


def test_a_turn_then_another_heading_is_no_clash():
    original = "go straight, then turn left at the road"
    decision = decide(original, original.replace("left", "right"), "negative", 0.9, THRESHOLDS)
    assert decision.valid, decision.reasons


@pytest.mark.parametrize(
    ("original", "candidate", "code"),
    [
        # route steps swapped, whatever the spelling of each step
        ("ok, now turn right and go foward.", "Now go forward and turn right.", "order_changed"),
        ("go to your 4'o clock direction. turn rigth and then you will see the building",
         "Turn right, then head to your four o'clock direction and you will see the building",
         "order_changed"),
        ("ok go south-west and then look for 3 trucks", "Look for 3 trucks and then go south-west.",
         "order_changed"),
        # found reading the dev run's kept positives: "across" is the step "cross"
        ("Head towards your 3 o'clock, cross the road and the destination is the building.",
         "Fly across the road and head towards your 3 o'clock. The destination is the building.",
         "order_changed"),
        # "turn right now" turns; "right now" alone is "now"
        ("ok, now turn right and go foward.", "Now head forward.", "direction_dropped"),
    ],
)  # fmt: skip
def test_steps_and_headings_are_read_whatever_their_spelling(original, candidate, code):
    decision = _positive(original, candidate)
    assert code in [r["code"] for r in decision.reasons], decision.reasons
    assert _positive(
        "ok, now turn right and go foward.", "Turn right now, then head forward."
    ).valid


@pytest.mark.parametrize(
    ("original", "candidate"),
    [
        # a compound landmark with one word swapped is no thing
        ("the target is a building with a parking lot in front.",
         "the target is a building with a parking boat in front."),
        # a fact added against one kept
        ("you are very close. it is at your 1 o clock, surrounded by trees.",
         "you are very close. it is far away at your 1 o clock, surrounded by trees."),
        ("It is at your 12 o'clock. A white roofed building between two roads.",
         "It is at your 12 o'clock, behind you. A white roofed building between two roads."),
    ],
)  # fmt: skip
def test_a_negative_no_guide_would_write_is_rejected(original, candidate):
    decision = decide(original, candidate, "negative", 0.9, THRESHOLDS)
    assert {"code": "self_contradiction"} in decision.reasons, decision.reasons


def test_two_values_of_one_family_swapped_are_two_changes():
    decision = decide(
        "ok, now turn right and go foward.", "ok, now turn left and go backward.", "negative", 0.9,
        THRESHOLDS,
    )  # fmt: skip
    assert "several_changes" in [r["code"] for r in decision.reasons]


@pytest.mark.parametrize(
    ("original", "faithful", "changed"),
    [
        # a verb that only says "reach" or "be" adds nothing; another verb still does
        ("Fly north until the river.", "Head north until you hit the river.",
         "Fly north and cross the river."),
        ("Land on the van at the gate.", "Land on the van sitting at the gate.",
         "Land on the van parked at the gate."),
    ],
)  # fmt: skip
def test_a_verb_that_says_only_reach_or_be_adds_nothing(original, faithful, changed):
    assert content.compare(original, faithful) == ([], [])
    assert content.compare(original, changed) != ([], [])


def test_a_verb_of_being_adds_nothing_only_as_a_participle_after_its_noun():
    # "stay there" is an order of its own, though WordNet makes staying a way to be
    assert "stay" in content.compare("Land on the van.", "Land on the van and stay on it.")[1]
    assert content.compare(
        "Land on the van by the gate.", "Land on the van standing by the gate."
    ) == ([], [])


def test_a_negation_and_a_word_are_its_antonym():
    assert content.compare("I am not certain which roof.", "I am uncertain which roof.") == (
        [],
        [],
    )
    # the negation kept and the antonym added is the opposite, not the same
    assert content.compare("it is not certain", "it is not uncertain") == (
        ["certain"],
        ["uncertain"],
    )
    assert content.compare("it is certain", "it is uncertain") == (["certain"], ["uncertain"])


def test_an_adverb_says_what_its_adjective_says_and_never_its_opposite():
    assert lexicon.same_sense("rapidly", "fast")
    assert not lexicon.same_sense("slowly", "fast")
    # an adjective's see-also ("cautious" / "careful"), never an antonym
    assert lexicon.same_sense("cautious", "careful")
    assert not lexicon.same_sense("careless", "careful")


def test_a_verb_phrase_wordnet_lists_whole_is_read_whole():
    # "pick out" is a way to "spot"; "come to" a way to "reach" (which adds nothing)
    assert content.compare("the silo is easy to spot", "the silo is easy to pick out") == ([], [])
    assert content.compare("fly on until the gate", "fly on until you come to the gate") == (
        [],
        [],
    )
    # a phrase that says another thing is still a change
    dropped, added = content.compare("the silo is easy to spot", "the silo is easy to pick up")
    assert dropped and added


def test_a_verb_defined_as_be_an_adjective_says_the_adjective():
    assert lexicon.same_sense("take_care", "careful")
    assert content.compare("be careful by the mast", "take care by the mast") == ([], [])
    # another phrase of the same verb says something else
    assert content.compare("be careful by the mast", "take off by the mast") != ([], [])


def test_a_verb_phrase_never_restates_a_verb_through_be():
    # WordNet's "go to" is a way to "be" (attend): it does not say "turn to"
    assert content.compare("turn to the kiosk", "go to the kiosk") == (["turn"], ["go"])


def test_the_parsed_index_is_kept_beside_the_copy_and_a_bad_one_is_parsed_again(tmp_path):
    """Every validate job loads WordNet; the first keeps NLTK's parsed lemma index as a
    pickle beside the copy, the next read it, and a torn or stale one is parsed again."""
    import shutil

    import nltk

    from contrastgen.language.lexicon import prepare, read_wordnet

    root = tmp_path / "wordnet-3.0"
    shutil.copytree(prepare(), root, ignore=shutil.ignore_patterns("*.pickle"))
    first = read_wordnet(root)
    index = root / f"lemma-index-nltk{nltk.__version__}.pickle"
    assert index.is_file()
    again = read_wordnet(root)
    assert again._lemma_pos_offset_map == first._lemma_pos_offset_map
    assert [s.name() for s in again.synsets("largest")] == [
        s.name() for s in first.synsets("largest")
    ]
    index.write_bytes(index.read_bytes()[:1000])  # torn
    torn = read_wordnet(root)
    assert torn._lemma_pos_offset_map == first._lemma_pos_offset_map
    assert index.stat().st_size > 1_000_000  # written whole again
