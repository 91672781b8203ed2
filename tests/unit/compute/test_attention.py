"""sdpa_packed_gqa gives what transformers' sdpa gives, without repeating the KV cache."""

import pytest
import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from contrastgen.backends.transformers_backend import BatchLimits, Engine, GenParams, run_strategy
from contrastgen.candidates.prompts import build_messages
from contrastgen.compute.attention import NAME, sdpa_packed_gqa
from contrastgen.generation import render_chat


def prompt_of(tokenizer, instruction: str) -> str:
    """A round-0 prompt as a job renders it: chat template plus the first tag."""
    return render_chat(tokenizer, build_messages(instruction), "POSITIVE:")


class GQAModule(torch.nn.Module):
    """What the attention functions read from an attention layer."""

    num_key_value_groups = 3
    is_causal = True
    training = False


@pytest.mark.parametrize("q_len", [1, 5])
def test_same_output_as_sdpa_with_a_padding_mask(q_len):
    torch.manual_seed(0)
    batch, kv_heads, groups, dim, kv_len = 4, 3, 3, 16, 40
    query = torch.randn(batch, kv_heads * groups, q_len, dim)
    key = torch.randn(batch, kv_heads, kv_len, dim)
    value = torch.randn(batch, kv_heads, kv_len, dim)
    # left padding of different widths per row, as in a batch of different prompt lengths
    mask = torch.ones(batch, 1, q_len, kv_len, dtype=torch.bool).tril(kv_len - q_len)
    for row, pad in enumerate([0, 3, 7, 12]):
        mask[row, :, :, :pad] = False
    want, _ = sdpa_attention_forward(GQAModule(), query, key, value, mask, scaling=dim**-0.5)
    got, _ = sdpa_packed_gqa(GQAModule(), query, key, value, mask, scaling=dim**-0.5)
    assert got.shape == want.shape == (batch, q_len, kv_heads * groups, dim)
    torch.testing.assert_close(got, want)


def test_engine_with_packed_gqa_generates_what_sdpa_generates(generator_dir):
    """Padded batch, shared-prefix cache, greedy: the same text row for row."""
    instructions = [
        "Turn to your 4 clock and keep on that way till the destination.",
        "go foward and turn 7'o clock then cross two road the joint grey building is goal.",
        "head east about 50 m and you will see a small white tent",
    ]
    params = GenParams(max_new_tokens=24, do_sample=False)
    texts = {}
    for attn in ("sdpa", NAME):
        engine = Engine(generator_dir, device="cpu", threads=2, attn_implementation=attn)
        assert engine.model.config._attn_implementation == attn
        prompts = [prompt_of(engine.tokenizer, t) for t in instructions]
        gens, _ = run_strategy("true_batch", engine, prompts, params, BatchLimits(8, 8192))
        texts[attn] = [g[0].text for g in gens]
    assert texts[NAME] == texts["sdpa"]
    assert len(set(texts[NAME])) == len(instructions)
