from pathlib import Path

import pytest
import torch
import yaml

from contrastgen.backends.transformers_backend import (
    BatchLimits,
    Engine,
    GenParams,
    StrategyUnavailable,
    bucket_batches,
    run_strategy,
    split_on_oom,
)
from contrastgen.candidates.prompts import build_messages
from contrastgen.errors import ConfigError
from contrastgen.generation import render_chat
from contrastgen.settings import GeneratorSettings


def prompt_of(tokenizer, instruction: str) -> str:
    """A round-0 prompt as a job renders it: chat template plus the first tag."""
    return render_chat(tokenizer, build_messages(instruction), "POSITIVE:")


REPO = Path(__file__).resolve().parents[3]


def test_bucket_batches_bounds_rows_and_tokens_and_covers_every_prompt():
    lengths = [50, 10, 300, 12, 48, 310, 11, 49]
    batches = bucket_batches(lengths, max_new_tokens=50, batch_size=3, token_budget=400)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 3
        longest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * (longest + 50) <= 400
    # similar lengths travel together: the two long prompts never share with short ones
    for batch in batches:
        assert max(lengths[i] for i in batch) - min(lengths[i] for i in batch) <= 40


def test_split_on_oom_halves_until_it_fits_and_keeps_order():
    # A double is used because a CUDA out-of-memory error cannot happen on this CPU-only
    # machine; it raises torch's own OutOfMemoryError above 3 items, as a GPU would.
    calls = []

    def run(items):
        calls.append(len(items))
        if len(items) > 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [x * 10 for x in items]

    splits = []
    out = split_on_oom(run, list(range(10)), lambda: splits.append(1))
    assert out == [x * 10 for x in range(10)]
    assert max(c for c in calls if c <= 3) <= 3 and len(splits) == 3  # 10 -> 5+5 -> 2+3+2+3


def test_split_on_oom_gives_up_at_one_item_and_passes_other_errors():
    def always_oom(items):
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(torch.OutOfMemoryError):
        split_on_oom(always_oom, [1, 2], lambda: None)

    def broken(items):
        raise ValueError("not memory")

    with pytest.raises(ValueError):
        split_on_oom(broken, [1, 2, 3, 4], lambda: None)


INSTRUCTIONS = [
    "Turn to your 4 clock and keep on that way till the destination.",
    "go foward and turn 7'o clock then cross two road the joint grey building is goal.",
    "head east about 50 m and you will see a small white tent",
    "Yes you can see it. Go in the 5 o'clock direction from where you are.",
    "please turn on 180 degrees and fly back to the line of buses - the third one from east side.",
]


@pytest.fixture(scope="module")
def engines(generator_dir):
    return {
        cached: Engine(generator_dir, device="cpu", threads=2, prefix_cache=cached)
        for cached in (True, False)
    }


def test_batched_strategies_match_sequential_under_greedy_decoding(engines):
    params = GenParams(max_new_tokens=16, do_sample=False)
    plan = BatchLimits(batch_size=4, token_budget=4096)
    outputs = {}
    for cached, engine in engines.items():
        prompts = [prompt_of(engine.tokenizer, t) for t in INSTRUCTIONS]
        for name in ("sequential", "fake_batch", "true_batch", "bucketed"):
            gens, metrics = run_strategy(name, engine, prompts, params, plan)
            outputs[(cached, name)] = [g[0].text for g in gens]
            assert metrics.prompts == len(prompts)
            assert all(0 < g[0].new_tokens <= 16 for g in gens)
            assert metrics.generated_tokens == sum(g[0].new_tokens for g in gens)
    # the shared system + few-shot prefix really went through the model once, into the cache
    prefix, cache = engines[True]._prefix
    assert len(prefix) > 300 and cache.get_seq_length() == len(prefix)
    assert engines[False]._prefix is None
    baseline = outputs[(False, "sequential")]
    assert all(len(set(texts)) > 1 for texts in [baseline])  # different prompts, outputs
    for key, texts in outputs.items():
        agree = sum(a == b for a, b in zip(texts, baseline, strict=True))
        assert agree >= len(baseline) - 1, key


def test_samples_per_prompt_and_eos_stop(engines):
    engine = engines[True]
    prompts = [prompt_of(engine.tokenizer, t) for t in INSTRUCTIONS[:2]]
    params = GenParams(max_new_tokens=120, do_sample=True, temperature=0.8, samples_per_prompt=3)
    gens, metrics = run_strategy("true_batch", engine, prompts, params, BatchLimits(8, 8192))
    assert [len(g) for g in gens] == [3, 3] and metrics.rows == 6
    # rows that stopped at EOS count their own tokens only, never the padding after them
    assert any(g.new_tokens < 120 for row in gens for g in row)


def test_a_stop_tag_ends_its_rows_at_the_negative_line_and_only_those(engines):
    from contrastgen.candidates.prompts import parse_output
    from contrastgen.generation import Metrics, stop_marks

    engine = engines[True]
    # two instructions whose greedy answers (in the few-shot shape) reach a NEGATIVE line
    shaped = [
        INSTRUCTIONS[1],
        "No, not that one. Turn around and go back, the destination is behind you on the left.",
    ]
    prompts = [prompt_of(engine.tokenizer, t) for t in shaped]
    params = GenParams(max_new_tokens=160, do_sample=False)
    free = [g[0] for g in engine.generate(prompts, params, Metrics())]
    assert all("NEGATIVE:" in g.text for g in free), "the few-shot shape ends with a negative"
    marks = [stop_marks("NEGATIVE"), stop_marks(None)]
    stopped = [g[0] for g in engine.generate(prompts, params, Metrics(), marks)]
    kinds = [c.kind for c in parse_output(stopped[0].text, "POSITIVE:", stopped[0].finished)[0]]
    assert kinds and set(kinds) == {"positive"}
    assert stopped[0].finished and stopped[0].new_tokens < free[0].new_tokens
    assert free[0].text.startswith(stopped[0].text.rsplit("\n", 1)[0])  # same start, cut
    # a row without a tag stops only at a blank line, which the answer format never has
    untagged = [g[0] for g in engine.generate(prompts, params, Metrics(), [stop_marks(None)] * 2)]
    assert stopped[1].text == untagged[1].text
    assert free[1].text.startswith(untagged[1].text.split("\n\n")[0])
    assert "\n\n" not in untagged[1].text.rstrip("\n")


def test_continuous_runs_or_says_it_is_unavailable(engines):
    engine = engines[False]
    prompts = [prompt_of(engine.tokenizer, t) for t in INSTRUCTIONS[:2]]
    try:
        gens, _ = run_strategy(
            "continuous",
            engine,
            prompts,
            GenParams(max_new_tokens=8, do_sample=False),
            BatchLimits(4, 4096),
        )
    except StrategyUnavailable as exc:
        assert "continuous" in str(exc)
    else:
        assert len(gens) == 2 and all(g[0].new_tokens > 0 for g in gens)


def test_unknown_strategy_is_refused(engines):
    with pytest.raises(ValueError, match="unknown strategy"):
        run_strategy("turbo", engines[True], ["x"], GenParams(), BatchLimits())


def test_quantization_on_cpu_is_refused_naming_the_key():
    from contrastgen.backends.transformers_backend import quantization_config

    with pytest.raises(ValueError, match="generator.quantization: 8bit uses bitsandbytes"):
        quantization_config("8bit", "cpu", torch.float16)


def test_cuda_on_a_host_without_a_gpu_is_a_config_error():
    from contrastgen.compute.devices import resolve_device

    assert not torch.cuda.is_available()  # this suite runs on CPU hosts
    with pytest.raises(ConfigError, match="generator.device is 'cuda' but torch sees no CUDA"):
        resolve_device("cuda")


def test_dtype_and_attention_are_part_of_the_generation_cache_key(generator_dir):
    from config_defaults import SETTINGS

    from contrastgen.backends import cache_identity as generation_cache_context

    generation = SETTINGS.generation.but(
        max_new_tokens=8, temperature=0.4, top_p=0.9, seed=1, samples_per_prompt=1
    )
    config = yaml.safe_load((REPO / "config.yaml").read_text())["generator"]
    base = GeneratorSettings.from_config(config).but(
        model=str(generator_dir), device="cpu", dtype="float32"
    )
    keys = {
        str(generation_cache_context(base.but(**change), generation))
        for change in ({}, {"dtype": "float16"}, {"attn_implementation": "eager"},
                       {"backend": "vllm"})
    }  # fmt: skip
    assert len(keys) == 4
    auto = generation_cache_context(base.but(dtype="auto"), generation)
    assert auto == generation_cache_context(base, generation)  # auto is float32 on a CPU


def test_bf16_on_a_gpu_without_it_is_refused(monkeypatch):
    # Test double: no pre-Ampere GPU here, so torch is told this card lacks bf16.
    from contrastgen.compute.devices import resolve_dtype

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(ConfigError, match="generator.dtype is bfloat16 but this GPU"):
        resolve_dtype("bfloat16", "cuda")
    assert resolve_dtype("auto", "cuda") == "float16"
    assert resolve_dtype("auto", "cpu") == "float32"


def test_auto_dtype_is_one_answer_for_backends_and_planner():
    """`auto` is resolved in devices alone: the planner sizes what the backend loads."""
    from contrastgen.compute.devices import resolve_dtype
    from contrastgen.compute.planner import plan_dtype

    for backend in ("transformers", "vllm"):
        for cc, bf16 in ((7.5, False), (8.0, True), (9.0, True)):
            assert plan_dtype("auto", backend, cc) == resolve_dtype("auto", "cuda", backend, bf16)
    from contrastgen.compute.devices import cpu_has_bf16

    # vLLM on a CPU: bfloat16 only where the CPU has it natively (issue 34)
    native = "bfloat16" if cpu_has_bf16() else "float32"
    assert resolve_dtype("auto", "cpu", "vllm") == native
    assert resolve_dtype("auto", "cpu", "transformers") == "float32"
    with pytest.raises(ConfigError, match="generator.dtype must be auto or one of"):
        resolve_dtype("fp8", "cpu")


def test_a_prompt_larger_than_the_token_budget_is_an_error_naming_the_key():
    with pytest.raises(ConfigError, match="generation.token_budget"):
        bucket_batches([10, 500], max_new_tokens=50, batch_size=4, token_budget=400)


def test_bucket_batches_packs_by_each_prompts_own_new_tokens():
    lengths = [100, 100, 100, 100]
    batches = bucket_batches(lengths, [28, 28, 300, 300], batch_size=8, token_budget=700)
    assert sorted(map(sorted, batches)) == [[0, 1], [2], [3]]  # 2 x 128 fit; 400 each do not


def test_native_cpu_bf16_is_read_from_the_cpu_flags():
    from contrastgen.compute.devices import cpu_has_bf16

    zen3 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\nbugs\t\t: spectre_v1\n"
    sapphire = "flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
    zen4 = "flags\t\t: fpu avx2 avx512f avx512_bf16\n"
    assert not cpu_has_bf16(zen3)
    assert cpu_has_bf16(sapphire) and cpu_has_bf16(zen4)
    assert not cpu_has_bf16("")  # no flags line: no
