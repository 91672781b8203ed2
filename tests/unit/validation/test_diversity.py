"""Which faithful positives an item keeps, and how varied the kept ones are."""

import pytest

from contrastgen.validation.diversity import changed_share, distance, pick_diverse, self_bleu

ORIGINAL = "Turn left at the red house and fly to your 3 o'clock."
NEAR_COPY = "Turn left at the red house and fly to your three o'clock."
NEAR_COPY_2 = "Turn left at the red house and fly towards your 3 o'clock."
REWORDED = "At the red house, go left, then head toward your 3 o'clock."
RESTRUCTURED = "Go left once you reach the red house; your 3 o'clock is where to fly."


def test_changed_share_counts_the_originals_words_changed():
    assert changed_share(ORIGINAL, ORIGINAL.upper()) == 0.0
    assert changed_share(ORIGINAL, NEAR_COPY) == pytest.approx(1 / 12)
    assert changed_share("go left", "please could you now go to the left side") == 1.0


def test_distance_is_symmetric_and_zero_for_the_same_words():
    assert distance(REWORDED, RESTRUCTURED) == distance(RESTRUCTURED, REWORDED) > 0.5
    assert distance(ORIGINAL, ORIGINAL + "!") == 0.0


def test_with_room_for_all_every_offer_is_kept_in_its_order():
    offered = [NEAR_COPY, REWORDED]
    assert pick_diverse(ORIGINAL, [], offered, 2) == offered
    assert pick_diverse(ORIGINAL, [], offered, 3) == offered
    assert pick_diverse(ORIGINAL, [], offered, 0) == []


def test_a_choice_keeps_the_offers_farthest_from_the_original():
    offered = [NEAR_COPY, REWORDED, NEAR_COPY_2, RESTRUCTURED]
    assert pick_diverse(ORIGINAL, [], offered, 2) == [RESTRUCTURED, REWORDED]


def test_a_choice_keeps_away_from_positives_kept_in_earlier_rounds():
    # REWORDED is farther from the original than the near copy, but the item already
    # holds it (an earlier round, other case): the slot goes to what adds most.
    kept = [REWORDED.lower()]
    assert pick_diverse(ORIGINAL, kept, [REWORDED, NEAR_COPY], 1) == [NEAR_COPY]


def test_a_choice_keeps_away_from_what_it_chose_before():
    twin = RESTRUCTURED.replace("Go", "Fly")
    assert pick_diverse(ORIGINAL, [], [RESTRUCTURED, twin, REWORDED], 2) == [
        RESTRUCTURED,
        REWORDED,
    ]


def test_self_bleu_is_high_for_near_copies_and_low_for_rewordings():
    assert self_bleu([NEAR_COPY]) is None
    assert self_bleu([ORIGINAL, ORIGINAL]) == pytest.approx(1.0)
    copies, varied = self_bleu([NEAR_COPY, NEAR_COPY_2]), self_bleu([REWORDED, RESTRUCTURED])
    assert copies > 0.5 > varied
