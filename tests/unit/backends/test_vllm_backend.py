"""The vllm backend for real: vLLM's CPU engine in the vLLM environment, the embedded model.

One engine start (~30 s on 2 cores) serves the module's tests.
"""

import os
import re
from pathlib import Path

import pytest
import yaml

from contrastgen.backends import make_backend
from contrastgen.candidates.prompts import build_messages, parse_output
from contrastgen.errors import ConfigError
from contrastgen.generation import GenParams, Request, stop_marks
from contrastgen.settings import GenerationSettings, GeneratorSettings

REPO = Path(__file__).resolve().parents[3]

INSTRUCTIONS = [
    "Turn to your 4 o'clock and go straight until you see the red roof house.",
    "head east and you will see a small white tent near the road",
    "go back to the parking lot and land on the grey building on its left side",
]
PARAMS = GenParams(max_new_tokens=96, temperature=0.4, top_p=0.95, samples_per_prompt=2, seed=7)


def settings(generator_dir, python):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    vllm = {"python": str(python), "cpu_kv_cache_gib": 1}
    generator = GeneratorSettings.from_config(config["generator"])
    generator = generator.but(backend="vllm", model=str(generator_dir), vllm=vllm)
    return generator, GenerationSettings.from_config(config["generation"])


@pytest.fixture(scope="module")
def backend(generator_dir, vllm_python):
    backend = make_backend(*settings(generator_dir, vllm_python), threads=2)
    yield backend
    backend.close()


def requests(budget=None, tags=(None, "NEGATIVE", None)):
    return [
        Request(tuple(build_messages(text)), "POSITIVE:", budget, stop_marks(tag))
        for text, tag in zip(INSTRUCTIONS, tags, strict=True)
    ]


def test_vllm_generates_readable_answers_in_input_order_and_stops(backend):
    done = []
    ticks = []
    out, metrics = backend.generate(
        requests(), PARAMS, lambda i, g: done.append((i, g)), lambda n, t: ticks.append((n, t))
    )
    assert [len(gens) for gens in out] == [2, 2, 2]
    assert sorted(i for batch, _ in done for i in batch) == [0, 1, 2]  # once each, as finished
    assert sum(n for n, _ in ticks) == 3
    assert metrics.prompts == 3 and metrics.rows == 6 and metrics.generate_s > 0
    assert metrics.generated_tokens == sum(g.new_tokens for gens in out for g in gens)
    assert metrics.load_s > 0 and backend.load_s >= metrics.load_s
    rows = [g for gens in out for g in gens]
    for g in rows:  # readable English from the byte-level tokenizer, not 'Ġ' soup
        assert "Ġ" not in g.text and "<|im" not in g.text, g.text
        assert all(mark not in g.text for mark in stop_marks(None))  # cut before a mark
    worded = [g for g in rows if len(re.findall(r"[A-Za-z]+", g.text)) >= 4 and " " in g.text]
    assert len(worded) >= 0.8 * len(rows), [g.text for g in rows]
    for i, gens in enumerate(out):
        for g in gens:
            candidates, _, _ = parse_output(g.text, "POSITIVE:", g.finished)
            if i == 1:  # asked for positives only: cut before its NEGATIVE line
                assert "\nNEG" not in g.text
                assert {c.kind for c in candidates} <= {"positive"}
    # rows end at <|im_end|> or a stop mark well before the budget, or run out (unfinished)
    assert any(g.finished and g.new_tokens < PARAMS.max_new_tokens for g in rows)
    assert all(g.finished or g.new_tokens == PARAMS.max_new_tokens for g in rows)


def test_each_request_keeps_its_own_budget_and_greedy_repeats(backend):
    greedy = GenParams(max_new_tokens=40, do_sample=False, samples_per_prompt=1)
    # Warm vLLM's prefix cache first: a cold prefill and one that reuses cached blocks
    # differ in the last bits, enough to flip a near tie on this CPU (seen in CI).
    backend.generate(requests(budget=12, tags=(None,) * 3), greedy)
    first, _ = backend.generate(requests(budget=12, tags=(None,) * 3), greedy)
    again, _ = backend.generate(requests(budget=12, tags=(None,) * 3), greedy)
    assert all(g.new_tokens <= 12 for gens in first for g in gens)
    assert [g[0].text for g in first] == [g[0].text for g in again]
    fixed = GenParams(max_new_tokens=16, do_sample=False, min_new_tokens=16)
    rows, metrics = backend.generate(requests(tags=(None,) * 3), fixed)
    assert [g[0].new_tokens for g in rows] == [16, 16, 16] and metrics.generated_tokens == 48


def test_closing_ends_every_vllm_process(generator_dir, vllm_python):
    backend = make_backend(*settings(generator_dir, vllm_python), threads=2)
    backend.generate(requests(budget=8, tags=(None,) * 3), GenParams(max_new_tokens=8))
    group = backend.process.pid
    backend.close()
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)  # no process of the engine's group is left


def test_a_missing_vllm_environment_names_the_key(generator_dir, tmp_path):
    generator, generation = settings(generator_dir, tmp_path / "no-python")
    with pytest.raises(ConfigError, match=r"generator.vllm.python .*make setup-vllm"):
        make_backend(generator, generation)
