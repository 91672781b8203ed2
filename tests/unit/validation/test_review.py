"""`contrastgen review`'s logic (review.py, judged.py's labels): the sample, the labels
file, the figures, and bad input. The page in a real browser: tests/workflow/test_review.py."""

import json
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from contrastgen.errors import UserError
from contrastgen.files import write_jsonl
from contrastgen.validation import judged
from contrastgen.validation.review import (
    LabelStore,
    ReviewSession,
    draw_sample,
    pair_key,
    run_pairs,
    validator_figures,
    word_diff,
)

ORIGINAL = "Turn left at the red house and fly to your 3 o'clock."


def candidate(text, kind, source, valid, reasons=()):
    return {
        "text": text,
        "kind": kind,
        "round": 0,
        "origin": source,
        "valid": valid,
        "reasons": list(reasons),
    }


def write_run(run: Path, n_items: int = 6) -> Path:
    """A finished run's results/contrastive.jsonl with every kind of decided candidate."""
    records = []
    for i in range(n_items):
        original = f"{ORIGINAL} Then land on roof {i}."
        cands = [
            candidate(f"Go left at the red house, then to your 3 o'clock. Land on roof {i}.",
                      "positive", "llm", True),
            candidate(f"Turn right at the red house. Land on roof {i}.", "positive", "llm", False,
                      [{"code": "direction_changed", "from": "left", "to": "right"}]),
            candidate(f"Turn left by the red house and fly to your 3 o'clock. Land on roof {i}.",
                      "positive", "rule", True),
            candidate(original.replace("red", "blue"), "negative", "rule", True,
                      [{"code": "color_changed", "from": "red", "to": "blue"}]),
            candidate(f"Park by the lake {i}.", "negative", "corpus", False,
                      [{"code": "off_topic"}]),
            candidate("POSITIVE: ...", "unparsed", "llm", False, [{"code": "unparseable"}]),
        ]  # fmt: skip
        records.append(
            {
                "id": f"r{i}",
                "instruction": original,
                "status": "complete",
                "rounds": 1,
                "candidates": cands,
            }  # fmt: skip
        )
    write_jsonl(run / "results" / "contrastive.jsonl", records)
    return run


def test_word_diff_marks_only_the_words_that_differ():
    original, cand = word_diff("Turn left at the RED house.", "turn right at the red house!")
    assert [t for t, differs in original if differs] == ["left", "."]
    assert [t for t, differs in cand if differs] == ["right", "!"]
    assert "".join(t for t, _ in cand) == "turn right at the red house!"  # nothing lost


def test_run_pairs_reads_every_decided_candidate_once_with_reasons_in_words(tmp_path):
    pairs = run_pairs(write_run(tmp_path))
    assert len(pairs) == 6 * 5  # the unparsed answer is not a pair
    by = Counter((p.kind, p.origin, p.accepted) for p in pairs)
    assert by[("positive", "llm", True)] == by[("negative", "corpus", False)] == 6
    turned = next(p for p in pairs if "Turn right" in p.candidate)
    assert turned.reasons == ("the candidate changed left to right",)
    blue = next(p for p in pairs if p.kind == "negative" and p.accepted)
    assert blue.reasons == ("the one fact it changes: color 'red' -> 'blue'",)


def test_the_sample_is_seeded_and_every_prefix_covers_every_stratum(tmp_path):
    pairs = run_pairs(write_run(tmp_path))
    sample = draw_sample(pairs, 12, seed=3)
    assert [p.key for p in sample] == [p.key for p in draw_sample(pairs, 12, seed=3)]
    assert [p.key for p in sample] != [p.key for p in draw_sample(pairs, 12, seed=4)]
    strata = {(p.kind, p.origin) for p in pairs}
    assert len(strata) == 4
    assert {(p.kind, p.origin) for p in sample[:4]} == strata  # the strata take turns
    assert Counter((p.kind, p.origin) for p in sample) == {s: 3 for s in strata}
    assert len(draw_sample(pairs, 1000, seed=0)) == len(pairs)


def test_labels_are_saved_as_given_and_read_back_in_the_judged_set_format(tmp_path):
    pairs = {p.key: p for p in run_pairs(write_run(tmp_path))}
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, pairs, by="ana")
    first, second = list(pairs.values())[:2]
    store.set(first, True, "")
    store.set(second, False, "says right, not left")
    store.set(first, False, "changed my mind")  # a relabel replaces, never duplicates
    store.close()
    rows = judged.read_labels(path)
    assert [(r.candidate, r.label, r.note) for r in rows] == [
        (first.candidate, False, "changed my mind"),
        (second.candidate, False, "says right, not left"),
    ]
    assert rows[0].origin == f"review {first.origin}" and rows[0].by == "ana"
    again = LabelStore(path, pairs, by="ana")  # resumes
    assert set(again.labels) == {first.key, second.key}
    again.close()


def test_labels_of_pairs_not_in_the_run_are_kept_and_a_file_of_another_run_is_refused(tmp_path):
    pairs = {p.key: p for p in run_pairs(write_run(tmp_path))}
    path = tmp_path / "labels.jsonl"
    foreign = judged.JudgedPair("Go north.", "Fly north.", "positive", True, "", "review llm")
    write_jsonl(path, [judged.label_row(foreign)])
    with pytest.raises(UserError, match="none of its 1 labels is a candidate of this run"):
        LabelStore(path, pairs, by="ana")
    mine = next(iter(pairs.values()))
    mine_row = judged.JudgedPair(mine.original, mine.candidate, mine.kind, True, "", "x")
    write_jsonl(path, [judged.label_row(foreign), judged.label_row(mine_row)])
    store = LabelStore(path, pairs, by="ana")  # the lock of the refused one was released
    assert store.others == [foreign] and set(store.labels) == {mine.key}
    store.set(list(pairs.values())[1], True, "")
    store.close()
    assert foreign in judged.read_labels(path)  # never dropped


def test_a_corrupted_labels_file_stops_with_its_line_and_is_left_as_it_was(tmp_path):
    pairs = {p.key: p for p in run_pairs(write_run(tmp_path))}
    path = tmp_path / "labels.jsonl"
    good = next(iter(pairs.values()))
    row = judged.label_row(
        judged.JudgedPair(good.original, good.candidate, good.kind, True, "", "review llm")
    )
    path.write_text(json.dumps(row) + "\n" + '{"original": "cut off\n')
    before = path.read_bytes()
    with pytest.raises(UserError, match=r"labels.jsonl:2: .*not a labels file"):
        LabelStore(path, pairs, by="ana")
    path.write_text(json.dumps({**row, "label": "yes"}) + "\n")
    with pytest.raises(UserError, match=r"labels.jsonl:1: field 'label' missing or not a bool"):
        judged.read_labels(path)
    path.write_bytes(before)
    assert path.read_bytes() == before


def test_two_pages_on_one_labels_file_the_second_is_refused_with_the_holder(tmp_path):
    write_run(tmp_path)
    path = tmp_path / "labels.jsonl"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from contrastgen.validation.review import ReviewSession; "
         f"s = ReviewSession({str(tmp_path)!r}, {str(path)!r}, 5, 0, 'a'); "
         "print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = rf"already open in another review page \(pid {holder.pid}\)"
        with pytest.raises(UserError, match=refused):
            ReviewSession(tmp_path, path, 5, 0, "b")
    finally:
        holder.kill()
        holder.wait()
    ReviewSession(tmp_path, path, 5, 0, "b").close()  # the lock died with its process


def test_a_run_without_results_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="no results/contrastive.jsonl: not a finished run"):
        run_pairs(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results/contrastive.jsonl").write_text('{"id": 1}\n')
    with pytest.raises(UserError, match=r"contrastive.jsonl:1: field 'id' missing or not a str"):
        run_pairs(tmp_path)


def test_figures_are_the_runs_decisions_against_the_labels_per_kind_and_origin(tmp_path):
    pairs = {p.key: p for p in run_pairs(write_run(tmp_path))}
    store = LabelStore(tmp_path / "labels.jsonl", pairs, by="ana")
    llm_positives = [p for p in pairs.values() if p.kind == "positive" and p.origin == "llm"]
    accepted = [p for p in llm_positives if p.accepted][:4]
    rejected = [p for p in llm_positives if not p.accepted][:2]
    for p in accepted[:3] + rejected[:1]:
        store.set(p, True, "")  # three accepted faithful, one rejected faithful
    store.set(accepted[3], False, "")  # one accepted changed
    store.set(rejected[1], False, "")
    (row,) = validator_figures(pairs, store.labels)
    store.close()
    assert (row["kind"], row["origin"], row["pairs"]) == ("positive", "llm", 6)
    assert row["precision"] == 0.75 and row["accepted"] == 4  # 3 of the 4 it accepted
    assert row["faithful_accepted"] == 0.75 and row["faithful"] == 4  # 3 of the 4 faithful
    assert row["changed_rejected"] == 0.5
    low, high = row["precision_ci"]
    assert 0.2 < low < 0.75 < high < 1


def test_wilson_interval_against_known_values():
    assert judged.wilson(0, 0) == [0.0, 1.0]
    assert judged.wilson(8, 10) == pytest.approx([0.4902, 0.9433], abs=1e-4)
    low, high = judged.wilson(10, 10)
    assert high == 1.0 and low == pytest.approx(0.7225, abs=1e-4)


def test_a_run_measures_its_validator_on_a_users_labels_beside_the_bundled_ones(tmp_path, embedder):
    from config_defaults import THRESHOLDS

    from contrastgen.validation.validator import decide

    labels = [
        judged.JudgedPair(ORIGINAL, "At the red house turn left and fly to your 3 o'clock.",
                          "positive", True, "", "review llm", by="ana"),
        judged.JudgedPair(ORIGINAL, "Turn right at the red house and fly to your 3 o'clock.",
                          "positive", False, "", "review llm", by="ana"),
        judged.JudgedPair(ORIGINAL, "Turn left at the blue house and fly to your 3 o'clock.",
                          "negative", True, "", "review rule", by="bo"),
    ]  # fmt: skip
    path = tmp_path / "mine.jsonl"
    write_jsonl(path, [judged.label_row(p) for p in labels])
    bundled, mine = judged.judged_sets_figures(
        [("bundled", judged.JUDGED_SET), (str(path), path)], THRESHOLDS, embedder.similarities
    )
    assert bundled["name"] == "bundled" and bundled["positive"]["pairs"] >= 50
    assert (mine["name"], mine["by"], mine["pairs"]) == (str(path), "ana, bo", 3)
    assert "positive" not in mine  # per origin only: the sample weighs origins equally
    sims = embedder.similarities([(p.original, p.candidate) for p in labels])
    verdicts = [
        decide(p.original, p.candidate, p.kind, s, THRESHOLDS).valid
        for p, s in zip(labels, sims, strict=True)
    ]
    assert verdicts[1] is False  # a changed direction is always refused
    llm, rule = mine["per_origin"]["review llm"], mine["per_origin"]["review rule"]
    assert set(mine["per_origin"]) == {"review llm", "review rule"}
    assert llm["positive"]["faithful_accepted"] == float(verdicts[0])
    assert llm["positive"]["changed_rejected"] == 1.0
    assert rule["negative"]["faithful_accepted"] == float(verdicts[2])
    assert rule["negative"]["changed_rejected"] is None  # no bad negative labelled
    assert rule["negative"]["pairs"] == 1 and "positive" not in rule


def test_the_card_and_the_report_say_whose_labels_and_how_many():
    from contrastgen.stages.export import judged_lines
    from contrastgen.stages.report import flat_stats

    figures = {"pairs": 4, "faithful": 3, "faithful_accepted": 0.6667,
               "faithful_accepted_ci": [0.2, 0.94], "changed_rejected": 1.0, "accepted": 2,
               "precision": 1.0, "precision_ci": [0.34, 1.0]}  # fmt: skip
    nothing = {**figures, "faithful": 0, "faithful_accepted": None, "accepted": 0,
               "precision": None, "changed_rejected": None}  # fmt: skip
    bundled = {"name": "bundled", "by": "the project", "pairs": 8, "positive": figures}
    mine = {"name": "labels/mine.jsonl", "by": "ana", "pairs": 6,
            "per_origin": {"review llm": {"positive": figures},
                           "review corpus": {"negative": nothing}}}  # fmt: skip
    card = "\n".join(judged_lines([bundled, mine]))
    assert "### labels/mine.jsonl: 6 pairs labelled by ana" in card
    assert "| positive | all | 4 | 66.7% [20%, 94%] | 100.0% | 100.0% [34%, 100%] |" in card
    assert "| positive | review llm | 4 | 66.7% [20%, 94%] |" in card
    assert "| negative | review corpus | 4 | - | - | - |" in card  # nothing to divide: not 0%
    assert card.count("| all |") == 1  # a labels file is never pooled
    rows = dict(flat_stats({"ingested": 3, "judged_sets": [bundled, mine]}))
    assert "judged_sets" not in rows and rows["ingested"] == 3
    cell = rows["judged positives (review llm): labels/mine.jsonl"]
    assert cell.startswith("precision 100.0% [34%, 100%], recall 66.7% [20%, 94%] on 4 pairs")
    assert rows["judged negatives (review corpus): labels/mine.jsonl"].startswith(
        "precision -, recall -"
    )
    assert "No judged set" in "\n".join(judged_lines([]))


def test_the_page_server_refuses_a_port_in_use_in_one_line(tmp_path):
    from contrastgen.ui.review_app import listen

    write_run(tmp_path)
    session = ReviewSession(tmp_path, tmp_path / "labels.jsonl", 5, 0, "a")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"port {port} on 127.0.0.1 is in use; pass another"):
            listen(session, "127.0.0.1", port)
    session.close()


def test_the_json_api_saves_a_label_and_refuses_a_bad_one(tmp_path):
    from contrastgen.ui.review_app import create_app

    write_run(tmp_path)
    session = ReviewSession(tmp_path, tmp_path / "labels.jsonl", 8, 0, "a")
    client = create_app(session).test_client()
    state = client.get("/api/state").get_json()
    assert len(state["pairs"]) == 8 and state["figures"] == []
    key = state["pairs"][0]["key"]
    assert client.post("/api/label", json={"key": key, "label": "yes"}).status_code == 400
    assert client.post("/api/label", json={"key": "nope", "label": True}).status_code == 404
    answer = client.post("/api/label", json={"key": key, "label": True, "note": "n"}).get_json()
    assert answer["labelled"] == 1 and answer["figures"][0]["pairs"] == 1
    session.close()
    (row,) = judged.read_labels(tmp_path / "labels.jsonl")
    assert pair_key(row.original, row.candidate, row.kind) == key and row.note == "n"
    assert "<title>contrastgen review</title>" in create_app(session).test_client().get("/").text


def test_a_label_the_disk_cannot_take_is_not_kept_and_the_page_says_why(tmp_path, full_disk):
    """A real full filesystem (tests/conftest.py): the write fails, the label is not
    counted, the file keeps what it had, and the API answers in words."""
    from contrastgen.ui.review_app import create_app

    write_run(tmp_path)
    labels = full_disk / "labels.jsonl"
    session = ReviewSession(tmp_path, labels, 30, 0, "a" * 4000)  # long rows fill it fast
    try:
        client = create_app(session).test_client()
        keys = [p["key"] for p in client.get("/api/state").get_json()["pairs"]]
        answers = [client.post("/api/label", json={"key": k, "label": True}) for k in keys]
        failed = [a for a in answers if a.status_code == 500]
        assert failed, "64 KiB cannot hold 30 labels of 4 KB"
        assert "no space left on device" in failed[0].get_json()["error"]
        kept = judged.read_labels(labels)
        assert len(kept) == len(session.store.labels) == answers.index(failed[0])
    finally:
        session.close()


def test_the_page_answers_only_to_local_names_and_skips_repeats(tmp_path):
    from contrastgen.ui.review_app import create_app

    run = write_run(tmp_path)
    records = [json.loads(line) for line in (run / "results/contrastive.jsonl").open()]
    first = records[0]["candidates"][0]
    records[0]["candidates"].append({**first, "text": first["text"].upper(), "valid": False,
                                     "reasons": [{"code": "duplicate"}]})  # fmt: skip
    write_jsonl(run / "results/contrastive.jsonl", records)
    assert all(p.candidate != first["text"].upper() for p in run_pairs(run))
    session = ReviewSession(run, tmp_path / "labels.jsonl", 5, 0, "a")
    client = create_app(session).test_client()
    assert client.get("/api/state", headers={"Host": "127.0.0.1:8765"}).status_code == 200
    assert client.get("/api/state", headers={"Host": "evil.example:8765"}).status_code == 403
    session.close()


def test_a_labels_path_that_cannot_be_a_labels_file_is_one_line(tmp_path):
    pairs = {p.key: p for p in run_pairs(write_run(tmp_path))}
    with pytest.raises(UserError, match="is a directory; name a labels file"):
        LabelStore(tmp_path, pairs, by="a")
    with pytest.raises(UserError, match="cannot write a labels file here"):
        LabelStore("/proc/version/labels.jsonl", pairs, by="a")
