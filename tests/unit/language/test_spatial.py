import pytest

from contrastgen.language.spatial import compare, extract


def fam(text, family):
    return extract(text).values[family]


@pytest.mark.parametrize(
    "text,hour",
    [
        ("turn to 3 o'clock", 3),
        ("turn to 3 oclock", 3),
        ("go to your 3'o clock", 3),
        ("go foward and turn 8'o clock", 8),
        ("Turn to your 2 clock and keep on", 2),
        ("it is in your two o'clock direction", 2),
        ("the goal is at your 10", 10),
        ("fly in the 12 o'clock direction", 12),
        ("head to 11 o clock", 11),
        ("turn to ten o\u2019clock", 10),
    ],
)
def test_clock_spellings(text, hour):
    assert fam(text, "clock") == (hour,)


def test_clock_number_is_not_a_count_and_distance_is_not_a_clock():
    f = extract("at your 4 o'clock fly 50 meters to the building")
    assert f.values["clock"] == (4,)
    assert f.values["count"] == ()
    assert f.values["distance"] == ("50 m",)
    assert extract("go to your 50 meters").values["clock"] == ()


@pytest.mark.parametrize(
    "text,expected",
    [
        ("go foward", ("forward",)),
        ("keep going straight ahead", ("forward",)),
        ("turn rigth", ("right",)),
        ("fly back a bit", ("backward",)),
        ("turn around and go to the bus", ("around",)),
        ("please turn on 180 degrees", ("around",)),
        ("make a u-turn", ("around",)),
        ("turn left", ("left",)),
    ],
)
def test_directions(text, expected):
    assert fam(text, "direction") == expected


def test_angles_other_than_180_are_angles():
    assert fam("turn 90 degrees to your right", "angle") == (90,)
    assert fam("turn 90 degrees to your right", "direction") == ("right",)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("head north", ("N",)),
        ("the northern edge", ("N",)),
        ("fly westward", ("W",)),
        ("go north-east", ("NE",)),
        ("go north east", ("NE",)),
        ("go northeastern side", ("NE",)),
        ("go south-west then east", ("E", "SW")),
    ],
)
def test_cardinals(text, expected):
    assert fam(text, "cardinal") == expected


def test_landmark_synonyms_are_one_landmark():
    assert fam("the grey structure", "landmark") == fam("the gray building", "landmark")
    assert fam("the car park", "landmark") == ("parking lot",)
    assert fam("cross the highway", "landmark") == fam("cross the street", "landmark")
    assert fam("next to the buildinds", "landmark") == ("building",)


def test_colors_sizes_counts_ordinals():
    f = extract("look for a pair of big grey tanks, the second from the west")
    assert f.values["color"] == ("gray",)
    assert f.values["size"] == ("large",)
    assert f.values["count"] == (2,)
    assert f.values["ordinal"] == (2,)
    assert fam("two red roofed houses", "count") == fam("2 red roofed houses", "count")
    assert fam("the 3rd house", "ordinal") == fam("the third house", "ordinal")


def test_relations():
    assert fam("the car behind the shed", "relation") == ("behind",)
    assert fam("the car in front of the shed", "relation") == ("in front of",)
    assert fam("beside the river", "relation") == fam("next to the river", "relation")
    assert fam("fly over the bridge", "relation") == ("over",)


def test_typos_do_not_break_the_rest():
    f = extract(
        "go foward and turn 7'o clock then cross two road the joint grey buildinds is goal."
    )
    assert f.values["clock"] == (7,)
    assert f.values["direction"] == ("forward",)
    assert f.values["color"] == ("gray",)
    assert f.values["count"] == (2,)
    assert set(f.values["landmark"]) == {"building", "road"}


def test_compare_reports_changes_drops_and_additions():
    original = extract("turn to your 3 o'clock and land on the red house")
    assert compare(original, extract("face three o'clock, land on the red home")) == []
    assert compare(original, extract("turn to your 9 o'clock and land on the red house")) == [
        {"code": "clock_changed", "from": 3, "to": 9}
    ]
    dropped = compare(original, extract("turn to your 3 o'clock and land on the house"))
    assert dropped == [{"code": "color_dropped", "value": "red"}]
    added = compare(original, extract("turn left to your 3 o'clock and land on the red house"))
    assert added == [{"code": "direction_added", "value": "left"}]


@pytest.mark.parametrize(
    "text",
    [
        "You are on the right track. go north",
        "Yes you are right. go north",
        "that's right, go north right now",
    ],
)
def test_right_meaning_correct_is_not_a_direction(text):
    assert fam(text, "direction") == ()
    assert fam(text, "cardinal") == ("N",)


def test_a_little_is_an_adverb_unless_it_describes_a_thing():
    assert fam("head to 11 o clock a little and then stop", "size") == ()
    assert fam("fly forward a little bit", "size") == ()
    assert fam("the goal is a little blue car", "size") == ("small",)


def test_bare_clock_needs_your_and_does_not_eat_counts():
    assert fam("go to the 3 blue cars", "clock") == ()
    assert fam("go to your 3 blue cars", "count") == (3,)
    assert fam("it is at your 10, the red one", "clock") == (10,)


def test_a_crossing_that_sets_the_next_step_is_the_place_past_it():
    rel = lambda t: extract(t).values["relation"]  # noqa: E731
    said = rel("Turn left after the tunnel.")
    for faithful in ("After crossing the tunnel, turn left.",
                     "When you have passed the tunnel turn left."):  # fmt: skip
        assert rel(faithful) == said, faithful
    # being over a thing is no place past it: "land once you are over the roof"
    assert rel("Land once you are over the kiosk.") != rel("Land once you are past the kiosk.")
    # a relation of another kind is still a change
    assert rel("Turn left before the tunnel.") != said
    assert rel("Fly along the tunnel, passing over the canal.") == ("along", "over")


def test_by_is_near_or_next_to_and_no_other_relation():
    kept = compare(extract("a shed near the river"), extract("a shed by the river"))
    assert kept == []
    assert compare(extract("a shed beside the river"), extract("a shed by the river")) == []
    changed = compare(extract("a shed behind the river"), extract("a shed by the river"))
    assert [r["code"] for r in changed] == ["relation_changed"]


def test_near_needs_an_object_not_far_any_spelling_and_follow_is_along():
    rel = lambda t: extract(t).values["relation"]  # noqa: E731
    # the drone coming near is a place: "get near" and "get close" say it alike
    assert rel("Slow down when you get near.") == rel("Slow down when you get close.")
    assert rel("Slow down when you get close.") == ("near",) and rel("Slow down now.") == ()
    assert rel("It is at the far end, near.") == ()
    assert rel("Land near the mast.") == ("near",)
    assert rel("The mast isn't far away now.") == rel("the mast is not far now") == ("near",)
    assert rel("The mast is far away now.") == ("far from",)
    assert rel("Follow the canal to the mast.") == rel("Fly along the canal to the mast.")
    assert rel("Cross the canal to the mast.") != rel("Follow the canal to the mast.")


def test_after_a_gerund_far_before_a_noun_and_landing_on_top_are_no_relations():
    rel = lambda t: extract(t).values["relation"]  # noqa: E731
    assert rel("After making a loop, fly to the kiosk.") == ()
    assert rel("Turn left after the kiosk.") == ("past",)
    assert rel("The kiosk at the far end of the pier.") == ()
    assert rel("The kiosk is far from the pier.") == ("far from",)
    assert rel("Land on top of the kiosk.") == rel("Touch down on top of the kiosk.") == ()
    assert rel("The flag on top of the kiosk.") == ("over",)


def test_before_a_crossing_is_the_place_before_it_one_change_from_after():
    diffs = compare(extract("After crossing the dam, turn left."),
                    extract("Before crossing the dam, turn left."))  # fmt: skip
    assert diffs == [{"code": "relation_changed", "from": "past", "to": "before"}]
