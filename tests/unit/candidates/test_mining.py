"""Corpus-mined negatives with the real embedded validator model."""

import torch
from config_defaults import THRESHOLDS

from contrastgen.candidates.mining import mine_negatives, nearest, replaces_a_fact
from contrastgen.files import read_jsonl, write_jsonl
from contrastgen.language import spatial
from contrastgen.stages.mine import mine
from contrastgen.validation.validator import decide

TEXTS = [
    "turn to your 5 o'clock and fly to the white house next to the road",
    "turn to your 9 o'clock and fly to the white house next to the road",  # one fact changed
    "fly to the white house next to the road",  # only drops the clock: vaguer, not wrong
    "there are two black trucks parked in front of the stadium",  # another scene
    "Turn to your 5 o'clock and fly to the white house next to the road.",  # a copy
]
ITEMS = [{"item": f"i{i}", "instruction": t, "members": []} for i, t in enumerate(TEXTS)]


def test_nearest_never_returns_the_row_itself_and_is_sorted():
    emb = torch.nn.functional.normalize(torch.randn(2500, 8), dim=1)  # > one block of rows
    idx, sims = nearest(emb, 5)
    assert len(idx) == 2500 and all(len(row) == 5 for row in idx)
    assert all(i not in row for i, row in enumerate(idx))
    assert all(row == sorted(row, reverse=True) for row in sims)
    full = emb @ emb.T
    full.fill_diagonal_(-2)
    assert idx[2400][0] == int(full[2400].argmax())


def test_mined_negatives_are_the_nearest_other_items_that_replace_a_fact(embedder):
    mined = mine_negatives(ITEMS, embedder.embed, per_item=2)
    assert set(mined) == {item["item"] for item in ITEMS}
    first = mined["i0"]
    assert first and first[0]["text"] == TEXTS[1] and first[0]["donor"] == "i1"
    for item in ITEMS:
        facts = spatial.extract(item["instruction"])
        for cand in mined[item["item"]]:
            assert cand["kind"] == "negative" and cand["origin"] == "corpus"
            assert cand["text"].lower() != item["instruction"].lower()
            assert replaces_a_fact(facts, spatial.extract(cand["text"]))
    # dropping the clock only (i2) or a copy (i4) is never a negative of i0
    assert all(c["donor"] not in ("i2", "i4") for c in first)
    # the nearest one is also what the validator accepts, at the default thresholds
    sim = embedder.similarities([(TEXTS[0], TEXTS[1])])[0]
    assert decide(TEXTS[0], TEXTS[1], "negative", sim, THRESHOLDS).valid


def test_mine_writes_one_file_per_shard_and_looks_across_shards(tmp_path, embedder):
    shards = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    write_jsonl(shards[0], [ITEMS[0], ITEMS[2]])
    write_jsonl(shards[1], [ITEMS[1], ITEMS[3], ITEMS[4]])
    outs = [tmp_path / "ma.jsonl", tmp_path / "mb.jsonl"]
    summary = mine(shards, outs, 1, lambda: embedder)
    a, b = list(read_jsonl(outs[0])), list(read_jsonl(outs[1]))
    assert [r["item"] for r in a] == ["i0", "i2"] and [r["item"] for r in b] == ["i1", "i3", "i4"]
    assert summary["items"] == 5 and 1 <= summary["with_negative"] <= 5
    # i0's negative comes from the other shard: mining sees the whole corpus
    assert [c["donor"] for c in a[0]["candidates"]] == ["i1"]
