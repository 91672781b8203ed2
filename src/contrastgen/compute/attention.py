"""SDPA attention that does not copy the KV cache on decode steps of grouped-query models.

With GQA (Mistral, Mixtral, Llama 3, SmolLM2: several query heads per KV head) and a
padding mask, transformers 4.57's `sdpa` repeats every KV head `groups` times before each
call (`repeat_kv`): a copy of the whole KV cache, every layer, every new token. In batched
decoding with a long shared prompt that copy is most of the time (2x slower on the
benchmark's CPU run). On a decode step (one query token) the `groups` query heads of one
KV head can instead be stacked as `groups` query positions against that KV head: the same
dot products, no copy. This is what transformers 5 does (`pack_gqa`); prefill and models
without GQA go through transformers' own `sdpa` unchanged.
"""

from __future__ import annotations

NAME = "sdpa_packed_gqa"


def sdpa_packed_gqa(
    module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs
):
    """transformers attention-interface function: (attn output [b, q, heads, d], None)."""
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    batch, heads, q_len, head_dim = query.shape
    if groups == 1 or q_len != 1:
        return sdpa_attention_forward(
            module,
            query,
            key,
            value,
            attention_mask,
            dropout=dropout,
            scaling=scaling,
            is_causal=is_causal,
            **kwargs,
        )
    # Query head h uses KV head h // groups (repeat_kv's order), so a plain view groups them.
    packed = query.view(batch, key.shape[1], groups, head_dim)
    mask = None if attention_mask is None else attention_mask[:, :, :, : key.shape[-2]]
    out = F.scaled_dot_product_attention(packed, key, value, attn_mask=mask, scale=scaling)
    return out.reshape(batch, heads, 1, head_dim).transpose(1, 2).contiguous(), None


def register() -> str:
    """Make `attn_implementation=NAME` loadable (idempotent); returns NAME."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, sdpa_packed_gqa)
    AttentionMaskInterface.register(NAME, sdpa_mask)  # the same masks as sdpa
    return NAME
