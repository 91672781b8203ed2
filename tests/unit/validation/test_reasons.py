"""The reason-code registry: every code the validator gives reads as a sentence for the
next round's prompt."""

from contrastgen.validation.reasons import describe_reason, is_known


def test_reasons_in_plain_words():
    assert describe_reason({"code": "clock_changed", "from": 3, "to": 9}, "positive") == (
        "your positive changed 3 o'clock to 9 o'clock; keep 3 o'clock"
    )
    assert describe_reason({"code": "no_spatial_change"}, "negative").startswith(
        "your negative changed nothing spatial; change a direction"
    )
    judged = {"code": "judge_differs", "note": "3 o'clock became 9 o'clock"}
    assert describe_reason(judged, "positive") == (
        "a reviewer found your positive says something else (3 o'clock became 9 o'clock); "
        "keep every fact"
    )
    assert "change one fact" in describe_reason({"code": "judge_same"}, "negative")
    assert "left out the landmark 'parking lot'" in describe_reason(
        {"code": "landmark_dropped", "value": "parking lot"}, "positive"
    )


def test_every_reason_the_validator_gives_has_words_for_the_next_round():
    """Refine rounds feed the reasons back; every code of the judged set's decisions must
    read as a sentence (a crash here stops a refine job)."""
    from config_defaults import THRESHOLDS

    from contrastgen.validation import judged
    from contrastgen.validation.validator import decide

    codes = set()
    for p in judged.load():
        decision = decide(p.original, p.candidate, p.kind, 0.9, THRESHOLDS)
        if decision.valid:
            continue  # an accepted negative's reasons are its changes, never fed back
        for reason in decision.reasons:
            text = describe_reason(reason, p.kind)
            assert text.startswith("your ") and "rejected (" not in text, (reason, text)
            assert is_known(reason["code"]), reason
            codes.add(reason["code"])
    assert {"content_dropped", "polarity_dropped", "mood_changed", "order_changed"} <= codes
    assert not is_known("clock_moved") and not is_known("sky_changed")
