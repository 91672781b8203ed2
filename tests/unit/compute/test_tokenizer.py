"""The embedded checkpoint's repaired tokenizer: one tokenization everywhere it is read.

The GGUF conversion used to label it a LlamaTokenizer with `<|im_start|>` as EOS and a
BOS added before every text; transformers 4.57 coped, transformers 5 and vLLM decoded
garbage and never stopped at the end of a turn. These run the real tokenizer in this
environment (transformers 4.57) and in the vLLM environment (transformers 5, vLLM's own
tokenizer loader).
"""

import json
import subprocess

import pytest
from transformers import AutoTokenizer

from contrastgen import OFFLINE_ENV
from contrastgen.candidates.prompts import build_messages
from contrastgen.generation import render_chat

TEXTS = [
    "Turn to your 4 o'clock, go   past the red-roof house; then land.\n\tOK?",
    "café 10:30 — naïve “quotes” 🚁  and trailing space ",
]

# Run in the vLLM environment: ids and round trips by transformers 5 and by vLLM.
OTHER_SIDE = r"""
import json, sys
from transformers import AutoTokenizer, __version__
from vllm.tokenizers import get_tokenizer
model, texts = sys.argv[1], json.loads(sys.argv[2])
out = {"transformers": __version__}
for name, tok in (("hf", AutoTokenizer.from_pretrained(model)), ("vllm", get_tokenizer(model))):
    out[name] = {
        "ids": [tok(t)["input_ids"] for t in texts],
        "round_trip": [tok.decode(tok(t)["input_ids"]) for t in texts],
        "eos": tok.eos_token,
    }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def tokenizer(generator_dir):
    return AutoTokenizer.from_pretrained(generator_dir)


def prompts(tokenizer):
    return [
        render_chat(tokenizer, build_messages(t, ["keep the clock"]), "POSITIVE:") for t in TEXTS
    ]


def test_round_trip_and_end_of_turn_in_transformers_4(tokenizer):
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|im_end|>"
    for text in TEXTS + prompts(tokenizer):
        ids = tokenizer(text)["input_ids"]
        assert tokenizer.decode(ids) == text
    # the chat template writes its own <|im_start|>: nothing is added in front of it
    ids = tokenizer(prompts(tokenizer)[0])["input_ids"]
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>") and ids[1] != ids[0]
    assert "Ġ" not in tokenizer.decode(tokenizer("go left now")["input_ids"])


def test_transformers_5_and_vllm_give_the_same_ids(tokenizer, generator_dir, vllm_python):
    texts = TEXTS + prompts(tokenizer)
    proc = subprocess.run(
        [str(vllm_python), "-c", OTHER_SIDE, str(generator_dir), json.dumps(texts)],
        capture_output=True,
        text=True,
        env={**OFFLINE_ENV, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    other = json.loads(proc.stdout.strip().splitlines()[-1])
    assert other["transformers"].startswith("5.")
    ours = [tokenizer(t)["input_ids"] for t in texts]
    for side in ("hf", "vllm"):
        assert other[side]["ids"] == ours, side
        assert other[side]["round_trip"] == texts, side
        assert other[side]["eos"] == "<|im_end|>", side
