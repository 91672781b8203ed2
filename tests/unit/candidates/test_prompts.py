from contrastgen.candidates.prompts import (
    FEW_SHOT,
    build_messages,
    few_shot_leak,
    first_tag,
    parse_output,
)
from contrastgen.language import spatial


def test_parse_output_reads_tags_robustly():
    raw = (
        " Go ahead to the red car.\n"
        "Positive 2: Fly on to the red car.\n"
        "- NEGATIVE: Go back to the red car.\n"
        "Here is some chatter\n"
        "NEGATIVE:\n"
    )
    candidates, junk, cut = parse_output(raw, "POSITIVE:")
    assert [(c.kind, c.text) for c in candidates] == [
        ("positive", "Go ahead to the red car."),
        ("positive", "Fly on to the red car."),
        ("negative", "Go back to the red car."),
    ]
    assert junk == ["Here is some chatter", "NEGATIVE:"] and cut is None


def test_parse_output_of_garbage_gives_no_candidates():
    candidates, junk, cut = parse_output("", "POSITIVE:")
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


def test_an_unfinished_answer_keeps_its_cut_line_apart():
    raw = " Go ahead to the red car.\nNEGATIVE: Go back to the"
    candidates, junk, cut = parse_output(raw, "POSITIVE:", finished=False)
    assert [c.text for c in candidates] == ["Go ahead to the red car."]
    assert cut == "NEGATIVE: Go back to the" and junk == []
    candidates, _, cut = parse_output(" Go ahead to the", "POSITIVE:", finished=False)
    assert candidates == [] and cut == "POSITIVE: Go ahead to the"


def test_few_shot_answers_obey_their_own_rules():
    """Positives keep every fact, negatives change exactly one: what the validator asks."""
    for original, positives, negatives in FEW_SHOT:
        facts = spatial.extract(original)
        for text in positives:
            assert spatial.compare(facts, spatial.extract(text)) == [], text
        for text in negatives:
            (change,) = spatial.compare(facts, spatial.extract(text))
            assert change["code"].endswith("_changed"), text


def test_few_shot_leak_is_a_copied_fact_phrase_the_instruction_lacks():
    original, positives, _ = FEW_SHOT[1]
    leaked = "Go back and fly to the small white house near the trees."
    assert few_shot_leak("turn left and land at the red car", leaked)
    assert not few_shot_leak(original, "Hi drone, head south east over the river.")  # its own
    assert not few_shot_leak("turn left at the road", "Go left at the road.")
