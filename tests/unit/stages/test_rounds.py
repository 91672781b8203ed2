"""generate/validate with the per-item cache, and model output that is garbage."""

import pytest
from config_defaults import THRESHOLDS

from contrastgen.cache import ItemCache
from contrastgen.files import read_jsonl
from contrastgen.generation import Generation, GenParams, Metrics, stop_marks
from contrastgen.records import IngestItem
from contrastgen.settings import Targets, Thresholds
from contrastgen.stages.generate import generate
from contrastgen.stages.rounds import start_state
from contrastgen.stages.validate import validate

TARGETS = Targets(positives=2, negatives=1)
WORK = [
    {"item": f"i{i}", "instruction": text, "members": [{"id": f"r{i}", "source": "x", "extra": {}}]}
    for i, text in enumerate(
        [
            "Turn to your 4 clock and keep on that way till the destination.",
            "head east about 50 m and you will see a small white tent",
            "turn left and go straight untill you see a parking lot with many cars",
        ]
    )
]
PARAMS = GenParams(max_new_tokens=24, temperature=0.4, top_p=0.95, seed=3)


def no_model():
    raise AssertionError("the model must not be loaded: everything is in the cache")


@pytest.fixture(scope="module")
def backend(generator_dir):
    from contrastgen.backends.transformers_backend import Engine, TransformersBackend

    return TransformersBackend(
        Engine(generator_dir, device="cpu", threads=2), "true_batch", 2, 8192
    )


class CountingBackend:
    """The real backend, recording the batches it hands back."""

    def __init__(self, inner, batches):
        self.inner, self.batches = inner, batches

    def generate(self, requests, params, on_done=None, progress=None):
        def on_batch(indices, gens):
            self.batches.append(indices)
            on_done(indices, gens)

        return self.inner.generate(requests, params, on_batch, progress)

    def close(self):
        pass


def test_generate_checkpoints_per_batch_and_a_rerun_is_served_from_the_cache(tmp_path, backend):
    cache = ItemCache(tmp_path / "cache", "generate", "round0-shard0")
    batches = []

    first = generate(
        WORK,
        0,
        tmp_path / "a.jsonl",
        TARGETS,
        lambda: CountingBackend(backend, batches),
        PARAMS,
        cache=cache,
        cache_context={"model": "m"},
    )
    assert first == {"prompted": 3, "sent_to_llm": 3, "cache_hits": 0}
    assert [len(b) for b in batches] == [2, 1]  # written to the cache batch by batch
    assert len(cache.path.read_text().splitlines()) == 3

    second = generate(
        WORK,
        0,
        tmp_path / "b.jsonl",
        TARGETS,
        no_model,
        PARAMS,
        cache=cache,
        cache_context={"model": "m"},
    )
    assert second == {"prompted": 3, "sent_to_llm": 0, "cache_hits": 3}
    a, b = list(read_jsonl(tmp_path / "a.jsonl")), list(read_jsonl(tmp_path / "b.jsonl"))
    assert [r["candidates"] for r in a] == [r["candidates"] for r in b]
    assert [r["cached"] for r in a] == [False] * 3 and [r["cached"] for r in b] == [True] * 3

    # Another model or round is another question: nothing may come from the cache.
    # (round 1 starts from states: the same items with nothing validated yet)
    states = [start_state(IngestItem.from_json(w)).to_json() for w in WORK]
    for round_, work, context in ((0, WORK, {"model": "other"}), (1, states, {"model": "m"})):
        with pytest.raises(AssertionError, match="must not be loaded"):
            generate(work, round_, tmp_path / "c.jsonl", TARGETS, no_model, PARAMS,
                     cache=cache, cache_context=context)  # fmt: skip


# Test double: a misbehaving LLM cannot be produced on demand from the real model, so
# these runs return the bad outputs a model can give (empty, endless, wrong format,
# the prompt echoed back) in place of real generations.
BAD_OUTPUTS = [
    "",
    "go left " * 400,
    "Sure! Here are some paraphrases:\n1. Turn to the right.\n2. Fly north.",
    "You rewrite drone navigation instructions. Instruction: Turn to your 4 clock and keep "
    "on that way till the destination.",
]


class ScriptedBackend:
    """Answers every request with the scripted outputs in turn; records what it was asked
    (each request's budget under `params`, and its stop marks)."""

    device, load_s = "cpu", 0.0

    def __init__(self, outputs, finished=True, budgets=None, stops=None):
        self.outputs, self.finished = outputs, finished
        self.budgets, self.stops = budgets, stops

    def __call__(self):  # generate() makes its backend by calling what it is given
        return self

    def generate(self, requests, params, on_done=None, progress=None):
        if self.stops is not None:
            self.stops.append([r.stops for r in requests])
        if self.budgets is not None:
            self.budgets.append([r.budget(params) for r in requests])
        n = len(self.outputs)
        gens = [[Generation(self.outputs[i % n], 7, self.finished)] for i in range(len(requests))]
        on_done(list(range(len(requests))), gens)
        return gens, Metrics(prompts=len(requests))

    def close(self):
        pass


def scripted_run(outputs, finished=True, budgets=None, stops=None):
    return ScriptedBackend(outputs, finished, budgets, stops)


def test_bad_model_output_becomes_rejected_candidates_with_reasons(tmp_path, embedder):
    # Distinct instructions: the cache key, like ingest, treats equal texts as one item.
    work = [
        dict(WORK[0], item=f"b{i}", instruction=f"{WORK[0]['instruction']} ({i})")
        for i in range(len(BAD_OUTPUTS))
    ]
    generate(work, 0, tmp_path / "cand.jsonl", TARGETS, scripted_run(BAD_OUTPUTS), PARAMS)
    validate(
        work,
        tmp_path / "cand.jsonl",
        0,
        tmp_path / "state.jsonl",
        TARGETS,
        THRESHOLDS,
        lambda: embedder,
    )
    states = {s["item"]: s for s in read_jsonl(tmp_path / "state.jsonl")}
    assert len(states) == len(BAD_OUTPUTS)
    for state in states.values():
        assert state["positives"] == [] and state["negatives"] == []
        assert state["status"] == "failed"
        assert state["candidates"], "every bad output leaves a rejected candidate"
        for cand in state["candidates"]:
            assert cand["valid"] is False and cand["reasons"]
    codes = {
        s: [r["code"] for c in st["candidates"] for r in c["reasons"]] for s, st in states.items()
    }
    # The prefilled first tag makes the first line a candidate even when the model
    # writes nothing useful; what it is rejected for names the problem.
    assert "length_mismatch" in codes["b1"]  # endless
    assert "identical" in codes["b3"] or "meta_text" in codes["b3"]  # prompt echoed


def test_validate_caches_similarities_and_new_thresholds_need_no_model(tmp_path, embedder):
    outputs = [
        "Turn toward your 4 o'clock and keep going that way till the destination."
        "\nNEGATIVE: Turn to your 8 clock and keep on that way till the destination."
    ]
    work = WORK[:1]
    generate(work, 0, tmp_path / "cand.jsonl", TARGETS, scripted_run(outputs), PARAMS)
    cache = ItemCache(tmp_path / "cache", "similarity", "round0-shard0")
    args = (work, tmp_path / "cand.jsonl", 0)
    validate(
        *args,
        tmp_path / "a.jsonl",
        TARGETS,
        THRESHOLDS,
        lambda: embedder,
        cache=cache,
        validator_identity={"path": "v"},
    )
    validate(
        *args,
        tmp_path / "b.jsonl",
        TARGETS,
        THRESHOLDS,
        no_model,
        cache=cache,
        validator_identity={"path": "v"},
    )
    a, b = next(read_jsonl(tmp_path / "a.jsonl")), next(read_jsonl(tmp_path / "b.jsonl"))
    assert a["candidates"] == b["candidates"] and a["positives"], a["candidates"]
    strict = Thresholds(**{**THRESHOLDS.__dict__, "positive_min_similarity": 0.999})
    validate(
        *args,
        tmp_path / "c.jsonl",
        TARGETS,
        strict,
        no_model,
        cache=cache,
        validator_identity={"path": "v"},
    )
    assert next(read_jsonl(tmp_path / "c.jsonl"))["positives"] == []


def test_an_answer_cut_off_by_its_budget_loses_its_last_line_only(tmp_path):
    outputs = [
        " Turn toward your 4 o'clock and keep going that way to the destination."
        "\nPOSITIVE: Face your 4 o'clock and keep on till the destination."
        "\nNEGATIVE: Turn to your 8 clock and keep on that"
    ]
    generate(WORK[:1], 0, tmp_path / "a.jsonl", TARGETS, scripted_run(outputs), PARAMS)
    generate(WORK[:1], 0, tmp_path / "b.jsonl", TARGETS, scripted_run(outputs, False), PARAMS)
    whole, cut = next(read_jsonl(tmp_path / "a.jsonl")), next(read_jsonl(tmp_path / "b.jsonl"))
    assert [c["kind"] for c in whole["candidates"]] == ["positive", "positive", "negative"]
    assert whole["cut_lines"] == 0
    assert cut["candidates"] == whole["candidates"][:2] and cut["cut_lines"] == 1
    assert cut["unparsed"] == []


def test_long_instructions_get_room_for_their_lines_up_to_the_cap(tmp_path):
    short = "turn left at the road"
    long = " ".join(["fly past the big white building and keep going north"] * 4)
    work = [dict(WORK[0], item=f"w{i}", instruction=t) for i, t in enumerate([short, long])]
    budgets = []
    run = scripted_run(["x"], budgets=budgets)
    generate(work, 0, tmp_path / "a.jsonl", TARGETS, run, GenParams(max_new_tokens=256))
    assert budgets == [[64, 224]]  # 5 words: 3 x (8 + 8) -> 64; 40: 3 x (60 + 8) -> 224
    budgets.clear()
    generate(work, 0, tmp_path / "b.jsonl", TARGETS, run, GenParams(max_new_tokens=48))
    assert budgets == [[48, 48]]  # the cap binds for both


def test_items_with_rule_negatives_ask_the_llm_for_positives_only(tmp_path):
    """Round 0 with rule-based negatives: the LLM's answer stops at its NEGATIVE line for
    items that have such negatives; an item without any still asks the LLM for one."""
    work = [
        dict(WORK[0], item="with", instruction="turn left at the red house"),
        dict(WORK[0], item="without", instruction="keep going until you see it please"),
    ]
    stops = []
    run = scripted_run([" Go left at the red house."], stops=stops)
    generate(work, 0, tmp_path / "a.jsonl", TARGETS, run, PARAMS, rule_negatives=2)
    assert stops == [[stop_marks("NEGATIVE"), stop_marks(None)]]
    out = {r["item"]: r for r in read_jsonl(tmp_path / "a.jsonl")}
    assert {c["origin"] for c in out["with"]["candidates"]} == {"llm", "rule"}
    assert {c["origin"] for c in out["without"]["candidates"]} == {"llm"}
    stops.clear()
    generate(work, 0, tmp_path / "b.jsonl", TARGETS, run, PARAMS)  # no other sources
    assert stops == [[stop_marks(None)] * 2]


def test_a_rounds_rule_negative_figures_count_rule_negatives_only():
    """Rule-made positives (synonym swaps) are rule candidates too; stats.json's
    rule_negative_* figures must not count them."""
    from contrastgen.records import Candidate
    from contrastgen.stages.merge_stats import RoundTally

    tally = RoundTally()
    made = [
        Candidate("Turn to your 4 o'clock.", "positive", 0, "rule", valid=True),
        Candidate("Turn to your 8 o'clock.", "negative", 0, "rule", valid=True),
        Candidate("Turn to your 4 o'clock now.", "negative", 0, "rule", valid=False),
        Candidate("Face your 4 o'clock.", "positive", 0, "llm", valid=True),
    ]
    for cand in made:
        tally.count(cand, "Turn to your 4 clock.")
    figures = tally.to_json()
    assert (figures["rule_negative_candidates"], figures["rule_negative_valid"]) == (2, 1)
    assert (figures["positive_candidates"], figures["positive_valid"]) == (2, 2)
    assert tally.llm_candidates == 1


def _valid(text, kind, source, round_=0):
    from contrastgen.records import Candidate

    return Candidate(text, kind, round_, source, valid=True)


def test_an_item_with_more_faithful_positives_than_slots_keeps_the_most_varied(tmp_path):
    from contrastgen.records import ItemState
    from contrastgen.stages.validate import _accept

    original = "Turn left at the red house and fly to your 3 o'clock."
    state = ItemState("i0", original, [], {})
    state.candidates = [
        _valid("Turn left at the red house and fly to your three o'clock.", "positive", "rule"),
        _valid("At the red house, go left, then head toward your 3 o'clock.", "positive", "llm"),
        _valid("Turn left at the red house and fly to your 9 o'clock.", "negative", "rule"),
        _valid("Go left once you reach the red house; fly to your 3 o'clock.", "positive", "llm"),
    ]
    _accept(state, 0, TARGETS)
    # the near copy came first; in order it would have been kept. The farthest first.
    assert state.positives == [state.candidates[1].text, state.candidates[3].text]
    assert state.negatives == [state.candidates[2].text] and state.status == "complete"


def test_stats_give_each_sources_share_of_words_changed_and_self_bleu(tmp_path):
    from contrastgen.files import write_jsonl
    from contrastgen.records import ItemState, Member
    from contrastgen.stages.merge import merge
    from contrastgen.validation.diversity import changed_share

    original = "Turn left at the red house and fly to your 3 o'clock."
    llm = [
        "At the red house, go left, then head toward your 3 o'clock.",
        "Go left once you reach the red house; your 3 o'clock is where to fly.",
    ]
    rule = "Turn left at the red house and fly to your three o'clock."
    state = ItemState(
        "i0", original, [Member("r0", "x:1", {}, original)], {}, positives=[*llm, rule]
    )
    state.candidates = [_valid(t, "positive", "llm") for t in llm] + [
        _valid(rule, "positive", "rule")
    ]
    write_jsonl(tmp_path / "state.jsonl", [state.to_json()])
    write_jsonl(tmp_path / "rejected.jsonl", [])
    stats = merge(
        [tmp_path / "state.jsonl"],
        [],
        tmp_path / "rejected.jsonl",
        tmp_path / "out.jsonl",
        tmp_path / "stats.json",
        0,
        made={},
    )
    llm_figures, rule_figures = (
        stats["per_origin"]["llm_positive"],
        stats["per_origin"]["rule_positive"],
    )
    assert (
        llm_figures["kept_changed_share_median"] > 0.5 > rule_figures["kept_changed_share_median"]
    )
    assert rule_figures["kept_changed_share_median"] == pytest.approx(1 / 12, abs=1e-3)
    assert 0 < llm_figures["positives_self_bleu"] < 0.5
    assert rule_figures["positives_self_bleu"] is None  # one rule positive: nothing to compare
    assert 0 < stats["positives_self_bleu"] < 1
    shares = sorted(changed_share(original, t) for t in [*llm, rule])
    assert stats["kept_positive_changed_share_median"] == pytest.approx(shares[1], abs=1e-4)
    # the dataset card shows them per source, and what judged the pairs
    from contrastgen.stages.export import dataset_card

    card = dataset_card(stats)
    llm_share = f"{llm_figures['kept_changed_share_median']:.0%}"
    assert f"{llm_share} (median) | {llm_figures['positives_self_bleu']:.2f} |" in card
    assert "| rule_positive |" in card and "model judge: none" in card
    from contrastgen.records import made_by

    judged_by = made_by("m", "transformers", "v", {}, judge="llm")
    counts = {"judged": 5, "unparsed": 1, "rejected": 2, "overruled": 1}
    card = dataset_card({**stats, "made_by": judged_by, "judge": counts})
    assert "judged 5 candidates; it rejected 2 the rules accepted, accepted 1" in card
    assert judged_by["hash"] != made_by("m", "transformers", "v", {})["hash"]


def test_the_judge_asks_the_real_model_about_each_candidate_and_validate_reads_it(
    tmp_path, backend, embedder
):
    """validator.judge: llm, end to end on the embedded model: every candidate of the
    round gets the model's answer, cached per pair; validate combines it with the rules
    (judge.combine: its own tests), and counts the answers that did not parse."""
    from contrastgen.validation.judge import parse_verdict

    cache = ItemCache(tmp_path / "cache", "generate", "round0-shard0")
    args = (WORK[:1], 0, tmp_path / "a.jsonl", TARGETS)
    kwargs = dict(rule_positives=1, rule_negatives=1, cache=cache, cache_context={"model": "m"})
    generate(*args, lambda: backend, PARAMS, judge=True, **kwargs)
    (batch,) = read_jsonl(tmp_path / "a.jsonl")
    assert {c["origin"] for c in batch["candidates"]} >= {"llm", "rule"}
    answers = [c["judge_answer"] for c in batch["candidates"]]
    assert all(isinstance(a, str) for a in answers)
    # a rerun asks the model nothing: generations and verdicts come from the cache
    generate(*args[:2], tmp_path / "b.jsonl", TARGETS, no_model, PARAMS, judge=True, **kwargs)
    assert next(read_jsonl(tmp_path / "b.jsonl"))["candidates"] == batch["candidates"]

    validate(WORK[:1], tmp_path / "a.jsonl", 0, tmp_path / "s.jsonl", TARGETS, THRESHOLDS,
             lambda: embedder)  # fmt: skip
    (state,) = read_jsonl(tmp_path / "s.jsonl")
    answer_of = {c["text"]: c["judge_answer"] for c in batch["candidates"]}
    decided = [
        c
        for c in state["candidates"]
        if c["kind"] != "unparsed" and c["reasons"] != [{"code": "duplicate"}]
    ]
    assert decided
    for cand in decided:
        verdict = parse_verdict(answer_of[cand["text"]])
        if verdict is None:
            assert cand["scores"]["judge_unparsed"] is True
        else:
            assert cand["scores"]["judge"] == verdict.to_json()
