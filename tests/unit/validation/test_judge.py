"""The model judge: its prompt, how its answers are read, and how a verdict combines
with the rules' decision (the model call itself: the judge test of stages/test_rounds.py)."""

import pytest

from contrastgen.records import Decision
from contrastgen.validation.judge import (
    JUDGE_PREFILL,
    Verdict,
    combine,
    judge_request,
    parse_verdict,
)


@pytest.mark.parametrize(
    "answer, verdict",
    [
        (" SAME\nDIFFERS: nothing", Verdict(True, "")),
        (" DIFFERENT\nDIFFERS: left became right", Verdict(False, "left became right")),
        ("different\ndiffers: the count", Verdict(False, "the count")),
        (" **SAME**", Verdict(True, "")),
        (" DIFFERENT", Verdict(False, "")),  # no note: still a verdict
        ("VERDICT: SAME\nDIFFERS: none.", Verdict(True, "")),  # the tag written again
        (" DIFFERENT\nDIFFERS: Nothing", Verdict(False, "")),
        (" SAME\nDIFFERS: none", Verdict(True, "")),
    ],
)
def test_answers_in_the_format_give_a_verdict(answer, verdict):
    assert parse_verdict(answer) == verdict


@pytest.mark.parametrize(
    "answer",
    [
        "",
        " The candidate is a paraphrase.",
        " SAMEISH",
        "Original: go left",
        " maybe",
        " SAME\nDIFFERS: two trees became three trees",  # contradicts itself
    ],
)
def test_an_answer_without_same_or_different_first_is_no_verdict(answer):
    assert parse_verdict(answer) is None


def test_the_request_asks_for_the_pair_and_prefills_the_first_tag():
    request = judge_request("Go left.", "Turn left.")
    assert request.prefill == JUDGE_PREFILL
    assert request.messages[-1] == {
        "role": "user",
        "content": "Original: Go left.\nCandidate: Turn left.",
    }
    assert request.messages[0]["role"] == "system" and "DIFFERS" in request.messages[0]["content"]


def decision(valid, *codes):
    return Decision(valid, [{"code": c} for c in codes], {"similarity": 0.9}, {})


SAME, DIFFERENT = Verdict(True, ""), Verdict(False, "3 o'clock became 9 o'clock")


def test_an_accepted_positive_the_judge_calls_different_is_rejected_with_its_note():
    out = combine(decision(True), "positive", DIFFERENT)
    assert not out.valid
    assert out.reasons == [{"code": "judge_differs", "note": "3 o'clock became 9 o'clock"}]
    assert out.scores["judge"] == {"same": False, "differs": "3 o'clock became 9 o'clock"}


def test_an_accepted_negative_the_judge_calls_same_is_rejected():
    out = combine(decision(True), "negative", SAME)
    assert not out.valid and out.reasons == [{"code": "judge_same"}]
    assert combine(decision(True), "negative", DIFFERENT).valid


def test_a_positive_rejected_only_for_its_wording_is_accepted_when_the_judge_calls_it_same():
    out = combine(decision(False, "content_dropped", "off_topic"), "positive", SAME)
    assert out.valid and out.reasons == []
    assert out.scores["judge_overruled"] == ["content_dropped", "off_topic"]
    assert not combine(decision(False, "content_dropped"), "positive", DIFFERENT).valid


BROKEN = [("clock_changed",), ("content_added", "direction_dropped"), ("identical",)]


@pytest.mark.parametrize("words", [["not"], ["two", "trees"], ["only"], ["3"]])
def test_a_dropped_negation_number_or_qualifier_is_a_fact_the_judge_cannot_overrule(words):
    rules = Decision(False, [{"code": "content_dropped", "words": words}], {}, {})
    out = combine(rules, "positive", SAME)
    assert not out.valid and out.reasons == rules.reasons


@pytest.mark.parametrize("codes", [*BROKEN, ("length_mismatch",), ("meta_text",)])
def test_a_changed_fact_or_a_broken_form_stays_rejected_whatever_the_judge_says(codes):
    assert not combine(decision(False, *codes), "positive", SAME).valid


def test_a_negative_rejected_by_the_rules_stays_rejected():
    assert not combine(decision(False, "content_added"), "negative", DIFFERENT).valid


def test_no_verdict_leaves_the_rules_decision_and_is_counted():
    for rules in (decision(True), decision(False, "content_added")):
        out = combine(rules, "positive", None)
        assert out.valid == rules.valid and out.reasons == rules.reasons
        assert out.scores["judge_unparsed"] is True
