from contrastgen.prompts import build_messages, describe_reason, first_tag, parse_output


def test_parse_output_reads_tags_robustly():
    raw = (
        " Go ahead to the red car.\n"
        "Positive 2: Fly on to the red car.\n"
        "- NEGATIVE: Go back to the red car.\n"
        "Here is some chatter\n"
        "NEGATIVE:\n"
    )
    candidates, junk = parse_output(raw, "POSITIVE:")
    assert [(c.kind, c.text) for c in candidates] == [
        ("positive", "Go ahead to the red car."),
        ("positive", "Fly on to the red car."),
        ("negative", "Go back to the red car."),
    ]
    assert junk == ["Here is some chatter", "NEGATIVE:"]


def test_parse_output_of_garbage_gives_no_candidates():
    candidates, junk = parse_output("", "POSITIVE:")
    assert candidates == [] and junk == ["POSITIVE:"]


def test_first_tag_follows_what_is_missing():
    assert first_tag(2, 1) == "POSITIVE:"
    assert first_tag(0, 1) == "NEGATIVE:"


def test_feedback_is_a_system_turn_after_the_shared_prefix_and_the_instruction_stays_bare():
    plain = build_messages("turn left")
    messages = build_messages("turn left", ["your negative changed nothing spatial"])
    assert messages[: len(plain) - 1] == plain[:-1]  # the shared prefix is untouched
    assert messages[-2]["role"] == "system"
    assert "- your negative changed nothing spatial" in messages[-2]["content"]
    assert messages[-1] == {"role": "user", "content": "turn left"}


def test_reasons_in_plain_words():
    assert describe_reason({"code": "clock_changed", "from": 3, "to": 9}, "positive") == (
        "your positive changed 3 o'clock to 9 o'clock; keep 3 o'clock"
    )
    assert describe_reason({"code": "no_spatial_change"}, "negative").startswith(
        "your negative changed nothing spatial; change a direction"
    )
    assert "left out the landmark 'parking lot'" in describe_reason(
        {"code": "landmark_dropped", "value": "parking lot"}, "positive"
    )
