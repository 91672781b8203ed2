"""The one JSON codec of the typed records: round trips, old files, omitted fields."""

import pytest

from contrastgen.generation import Request
from contrastgen.records import Candidate, IngestItem, ItemState, Member, Proposal, RoundCandidates


def test_nested_records_round_trip_through_json():
    member = Member("r1", "corpus.jsonl:3", {"split": "train"}, "Turn left.")
    state = ItemState("i1", "Turn left.", [member], {"direction": ["left"]})
    state.candidates.append(Candidate("Go left.", "positive", 0, "llm", valid=True))
    again = ItemState.from_json(state.to_json())
    assert again == state and isinstance(again.members[0], Member)
    assert isinstance(again.candidates[0], Candidate)
    request = Request(({"role": "user", "content": "hi"},), "POSITIVE:", 12, ("\n\n",))
    assert Request.from_json(request.to_json()) == request  # tuples come back as tuples


def test_a_field_without_a_value_is_left_out_and_a_missing_key_takes_its_default():
    assert "edit" not in Proposal("x", "positive").to_json()
    assert Proposal("x", "negative", "rule", edit="clock").to_json()["edit"] == "clock"
    # a file written before `cut_lines` and `new_tokens` existed
    old = {"item": "i1", "round": 0, "candidates": [{"text": "x", "kind": "positive"}]}
    batch = RoundCandidates.from_json(old)
    assert (batch.cut_lines, batch.new_tokens, batch.candidates[0].origin) == (0, 0, "llm")
    with pytest.raises(ValueError, match="RoundCandidates: no 'round'"):
        RoundCandidates.from_json({"item": "i1", "candidates": []})
    with pytest.raises(TypeError, match="a JSON list, not an object"):
        RoundCandidates.from_json([])


def test_older_files_are_upgraded_on_reading():
    # schema 1 named a candidate's maker `source`; early shards gave members no text
    schema1 = {"text": "x", "kind": "negative", "round": 0, "source": "rule", "valid": False,
               "reasons": [], "scores": {}, "features": {}}  # fmt: skip
    assert Candidate.from_json(schema1).origin == "rule"
    item = IngestItem.from_json(
        {"item": "i1", "instruction": "Turn left.", "members": [{"id": "a", "source": "f:1",
                                                                 "extra": {}}]}
    )  # fmt: skip
    assert item.members[0].instruction == "Turn left."
