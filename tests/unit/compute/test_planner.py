"""The memory planner against figures computed by hand from the public model configs.

Mistral-7B: 7,241,732,096 params = embed 131,072,000 + 32 layers x 218,112,000
(q/o 4096x4096, k/v 1024x4096, gate/up/down 14336x4096, 2 norms of 4096) + norm 4,096
+ lm_head 131,072,000. KV per token: 2 (K,V) x 8 heads x 128 x 2 bytes x 32 layers
= 131,072 bytes. At 16,384 batch tokens the KV cache is 2 GiB and the activation reserve
16,384 x (2 x 14,336 + 4,096) x 2 bytes = 1 GiB, plus 512 MiB of CUDA context.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from contrastgen.compute.planner import GiB, PlanError, parse_bytes, plan

CONFIGS = Path(__file__).resolve().parents[2] / "data" / "model_configs"
MISTRAL_LINEAR = 32 * (2 * 4096 * 4096 + 2 * 1024 * 4096 + 3 * 14336 * 4096)  # 6,979,321,856
MISTRAL_16BIT = 2 * 131_072_000 + 32 * 2 * 4096 + 4096  # embeddings, lm_head, norms
MISTRAL_SCALE_ROWS = 32 * (4096 + 1024 + 1024 + 4096 + 14336 + 14336 + 4096)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("configs")
    dirs = {}
    for name in ("mistral-7b", "mixtral-8x7b"):
        (root / name).mkdir()
        shutil.copy(CONFIGS / f"{name}.json", root / name / "config.json")
        dirs[name] = root / name
    return dirs


def test_parse_bytes():
    assert parse_bytes("11GiB") == 11 * GiB == parse_bytes("11G")
    assert parse_bytes("80GB") == 80 * 10**9
    with pytest.raises(ValueError, match="not a memory size"):
        parse_bytes("eleven")


def test_mistral_7b_weights_kv_and_placement(model_dirs):
    fp16 = plan(model_dirs["mistral-7b"], 10, "11GiB", "none")
    assert fp16.params == 7_241_732_096
    assert fp16.weight_bytes == 2 * 7_241_732_096
    assert fp16.kv_bytes_per_token == 131_072
    assert fp16.reserve_bytes == GiB + 512 * 2**20
    # 13.49 GiB + 2 GiB KV > 9.5 GiB usable: two GPUs per replica, five replicas.
    assert (fp16.gpus_per_replica, fp16.replicas) == (2, 5)
    assert set(fp16.device_map.values()) == {0, 1}
    assert fp16.device_map["model.embed_tokens"] == 0 and fp16.device_map["lm_head"] == 1
    assert all(b <= 11 * GiB for b in fp16.per_gpu_bytes)
    assert fp16.max_memory == {0: int(9.5 * GiB), 1: int(9.5 * GiB)}

    int8 = plan(model_dirs["mistral-7b"], 10, "11GiB", "8bit")
    assert int8.quantized_params == MISTRAL_LINEAR
    assert int8.weight_bytes == MISTRAL_LINEAR + 4 * MISTRAL_SCALE_ROWS + 2 * MISTRAL_16BIT
    assert int8.weight_bytes == 7_509_647_360
    assert (int8.gpus_per_replica, int8.replicas) == (1, 10)
    assert int8.unquantized_params == {"Embedding": 131_072_000, "lm_head": 131_072_000}

    nf4 = plan(model_dirs["mistral-7b"], 10, "11GiB", "4bit")
    assert nf4.weight_bytes == MISTRAL_LINEAR // 2 + MISTRAL_LINEAR // 64 * 4 + 2 * MISTRAL_16BIT
    assert (nf4.gpus_per_replica, nf4.replicas) == (1, 10)

    big = plan(model_dirs["mistral-7b"], 1, "80GiB", "none")
    assert (big.gpus_per_replica, big.replicas) == (1, 1)
    # 80 GiB - 1.5 GiB reserve - 13.49 GiB weights left for KV: ~ 66.99 GiB / 128 KiB
    assert big.kv_tokens == int((80 * GiB - big.reserve_bytes - big.weight_bytes) // 131_072)


def test_mixtral_8x7b_on_ten_11gib_cards_5x2_in_8bit_and_3x3_in_4bit(model_dirs):
    """The Mixtral module tree as the installed transformers 4.57 builds it (one nn.Linear
    per expert matrix w1/w2/w3, a Linear router), so bitsandbytes quantizes the experts.
    Hand figures at 4,096 batch tokens (KV 16 MiB per layer, reserve 0.75 GiB):
    8-bit layer = 1,451,261,952 int8 weights (experts 3 x 8 x 4,096 x 14,336, attention
    41,943,040, router 32,768) + 272,392 fp32 row scales + 2 norms = 1.3526 GiB (+ KV
    1.368 GiB): 7 per 10.25 GiB GPU, 32 layers -> 5 GPUs, 2 replicas on 10.
    4-bit layer = 725,630,976 + 90,703,872 absmax bytes + norms = 0.7603 GiB (+ KV
    0.776 GiB): 12 + 13 + 7 layers -> 3 GPUs, 3 replicas."""
    mixtral = model_dirs["mixtral-8x7b"]
    fp16 = plan(mixtral, 10, "80GiB", "none")
    assert fp16.params == 46_702_792_704
    assert (fp16.gpus_per_replica, fp16.replicas) == (2, 5)

    int8 = plan(mixtral, 10, "11GiB", "8bit", batch_tokens=4096)
    layer = 1_451_261_952 + 4 * 272_392 + 2 * 2 * 4096
    assert int8.weight_bytes == 32 * layer + 2 * (2 * 131_072_000 + 4096)
    assert int8.quantized_params == 32 * 1_451_261_952
    assert int8.unquantized_params == {"Embedding": 131_072_000, "lm_head": 131_072_000}
    assert (int8.gpus_per_replica, int8.replicas) == (5, 2)
    assert [list(int8.device_map.values()).count(g) for g in range(5)] == [8, 7, 7, 7, 6]
    assert all(b <= 11 * GiB for b in int8.per_gpu_bytes)

    nf4 = plan(mixtral, 10, "11GiB", "4bit", batch_tokens=4096)
    assert (nf4.gpus_per_replica, nf4.replicas) == (3, 3)
    with pytest.raises(PlanError, match="needs 2 GPUs of 80.00 GiB but only 1"):
        plan(mixtral, 1, "80GiB", "none")


def fused_experts_mixtral(model_dir: Path):
    """Mixtral with each layer's experts as two fused 3D tensors, the transformers 5 layout
    that bitsandbytes leaves unquantized (it swaps nn.Linear modules only)."""
    import torch
    from accelerate import init_empty_weights
    from torch import nn
    from transformers import AutoConfig, AutoModelForCausalLM

    class MixtralExperts(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate_up_proj = nn.Parameter(torch.empty(8, 2 * 14336, 4096))
            self.down_proj = nn.Parameter(torch.empty(8, 4096, 14336))

    config = AutoConfig.from_pretrained(model_dir)
    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float16)
        for layer in model.model.layers:
            layer.block_sparse_moe.experts = MixtralExperts()
    return config, model


def test_fused_3d_experts_stay_16_bit_and_the_error_says_why(model_dirs):
    config, model = fused_experts_mixtral(model_dirs["mixtral-8x7b"])
    # int8 attention and router (32 x 41,975,808 weights + 10,248 row scales x 4 bytes per
    # layer), everything else bf16: experts 45,097,156,608, embeddings + head 262,144,000,
    # norms 266,240 params.
    on_20 = plan(None, 20, "11GiB", "8bit", config=config, model=model)
    assert on_20.weight_bytes == 32 * (41_975_808 + 4 * 10_248) + 2 * 45_359_566_848
    assert on_20.gpus_per_replica == 11
    with pytest.raises(PlanError) as err:
        plan(None, 10, "11GiB", "8bit", config=config, model=model)
    message = str(err.value)
    assert "needs 11 GPUs" in message and "only 10" in message
    assert "MixtralExperts.gate_up_proj 30.06 B" in message


def test_plan_cli_prints_a_table_and_json(model_dirs):
    base = [sys.executable, "-m", "contrastgen.cli", "plan", "--gpu-memory", "11GiB", "--model"]
    cmd = base + [str(model_dirs["mistral-7b"]), "--gpus", "10"]
    table = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "GPUs per replica" in table and "KV cache per token" in table
    data = json.loads(subprocess.run(cmd + ["--json"], capture_output=True, text=True).stdout)
    assert data["gpus_per_replica"] == 2 and data["replicas"] == 5
    assert len(data["per_gpu_bytes"]) == 2 and data["kv_tokens"] >= 16384
    bad = subprocess.run(
        base + [str(model_dirs["mixtral-8x7b"]), "--gpus", "1"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "needs" in bad.stderr


def test_auto_budget_runs_mixtral_8bit_on_all_ten_gpus(model_dirs):
    """The default budget (16,384 tokens) puts one 8-bit Mixtral replica on 6 GPUs and
    leaves 4 idle; choosing the budget with the replicas gives 2 replicas of 5 GPUs at
    the largest budget that still fits on 5 (next step up needs 6)."""
    mixtral = model_dirs["mixtral-8x7b"]
    kept = plan(mixtral, 10, "11GiB", "8bit")
    assert (kept.gpus_per_replica, kept.replicas, kept.idle_gpus) == (6, 1, 4)
    auto = plan(mixtral, 10, "11GiB", "8bit", choose_budget=True)
    assert (auto.gpus_per_replica, auto.replicas, auto.idle_gpus) == (5, 2, 0)
    assert auto.batch_tokens % 1024 == 0 and 4096 <= auto.batch_tokens < 16384
    assert plan(mixtral, 10, "11GiB", "8bit", batch_tokens=auto.batch_tokens + 1024).replicas == 1
    assert kept.note == (
        f"4 GPUs idle; token_budget {auto.batch_tokens} would run 2 replicas of 5 GPUs"
    )
    assert f"{2 * auto.batch_tokens} tokens at once" in auto.note
    # where the default budget already uses every GPU, auto keeps it
    mistral = plan(model_dirs["mistral-7b"], 10, "11GiB", "none", choose_budget=True)
    assert (mistral.gpus_per_replica, mistral.replicas, mistral.batch_tokens) == (2, 5, 16384)


def test_pre_ampere_cards_plan_float16(model_dirs):
    mixtral = model_dirs["mixtral-8x7b"]  # its config says bfloat16
    assert plan(mixtral, 10, "80GiB", "none").dtype == "bfloat16"
    assert plan(mixtral, 10, "11GiB", "8bit", compute_capability=7.5).dtype == "float16"
    with pytest.raises(PlanError, match=r"no bf16 support.*compute capability: 7\.5\)"):
        plan(mixtral, 10, "11GiB", "8bit", dtype="bfloat16", compute_capability=7.5)


def test_vllm_layouts_on_ten_11gib_cards(model_dirs):
    """Mistral-7B fp16 = 7,241,732,096 x 2 bytes = 14.48 GB: one 9.9 GiB share of an
    11 GiB card cannot hold it, two can (TP 2), so 5 replicas. Mixtral-8x7B AWQ: the
    linear weights at 4 bits plus a 2-byte scale and a 4-bit zero per 128, embeddings and
    norms fp16: ~24.8 GB. Tensor parallel sizes divide 32 heads and 8 KV heads (1, 2, 4,
    8): TP 4 is the smallest that fits (2 replicas, 2 GPUs idle); 3 pipeline stages fit
    too (3 replicas on 9 GPUs), and the planner takes that for its 3 x 16,384 tokens."""
    from contrastgen.compute.planner import plan_vllm

    mistral = plan_vllm(model_dirs["mistral-7b"], 10, "11GiB", compute_capability=7.5)
    assert mistral.weight_bytes == 2 * 7_241_732_096 and mistral.dtype == "float16"
    chosen = mistral.chosen
    assert (chosen.tensor_parallel, chosen.pipeline_parallel, chosen.replicas) == (2, 1, 5)
    assert chosen.idle_gpus == 0 and chosen.kv_tokens >= 16384

    mixtral = plan_vllm(model_dirs["mixtral-8x7b"], 10, "11GiB", "awq", compute_capability=7.5)
    assert 24.5e9 < mixtral.weight_bytes < 25.2e9
    layouts = [mixtral.chosen, *mixtral.others]
    assert {x.tensor_parallel for x in layouts} <= {1, 2, 4, 8}
    tp_only = [x for x in layouts if x.pipeline_parallel == 1]
    assert min(x.tensor_parallel for x in tp_only) == 4
    smallest_tp = min(tp_only, key=lambda x: x.tensor_parallel)
    assert (smallest_tp.replicas, smallest_tp.idle_gpus) == (2, 2)
    chosen = mixtral.chosen
    assert (chosen.tensor_parallel, chosen.pipeline_parallel, chosen.replicas) == (1, 3, 3)
    assert chosen.idle_gpus == 1 and chosen.work == 3 * 16384
    assert "tensor parallel alone: TP 4 x PP 1" in mixtral.note
    assert "fewer idle GPUs: TP 1 x PP 5" in mixtral.note
    with pytest.raises(PlanError, match="tensor parallel sizes must divide 32"):
        plan_vllm(model_dirs["mixtral-8x7b"], 2, "11GiB", "awq")


def test_plan_cli_chooses_the_budget_and_says_why(model_dirs):
    cmd = [sys.executable, "-m", "contrastgen.cli", "plan", "--model",
           str(model_dirs["mixtral-8x7b"]), "--gpus", "10", "--gpu-memory", "11GiB",
           "--quantization", "8bit", "--json"]  # fmt: skip
    data = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert (data["gpus_per_replica"], data["replicas"], data["idle_gpus"]) == (5, 2, 0)
    assert data["batch_tokens"] < 16384 and "tokens at once" in data["note"]
    vllm = cmd[:-3] + ["--backend", "vllm", "--quantization", "awq", "--json"]
    data = json.loads(subprocess.run(vllm, capture_output=True, text=True, check=True).stdout)
    assert data["backend"] == "vllm" and data["chosen"]["pipeline_parallel"] == 3


def test_the_schedule_is_what_the_rules_ask_for(model_dirs):
    """scheduling.schedule, the one answer common.smk takes for the generation jobs'
    `gpu` resource, threads and plan: 0 GPUs on a CPU and for a server's clients, the
    configured count, or the plan's GPUs per replica with gpus_per_job: auto."""
    from config_defaults import SETTINGS

    from contrastgen.compute.scheduling import schedule

    base = SETTINGS.generator.but(model=str(model_dirs["mistral-7b"]), threads=8)
    cpu = schedule(base.but(device="auto"), 16384, None, host_gpus=0)
    assert (cpu.device, cpu.gpus_per_job, cpu.threads, cpu.layout) == ("cpu", 0, 8, None)
    server = schedule(base.but(backend="openai", device="cuda"), 16384, 10, host_gpus=10)
    assert (server.gpus_per_job, server.threads) == (0, 1)
    fixed = schedule(base.but(device="cuda", gpus_per_job=3), 16384, 10, host_gpus=0)
    assert (fixed.device, fixed.gpus_per_job, fixed.layout) == ("cuda", 3, None)
    assert fixed.token_budget(16384) == 16384 and fixed.vllm_parallel() == {}

    auto = base.but(device="cuda", gpus_per_job="auto", gpu_memory="11GiB")
    hf = schedule(auto, 16384, 10, host_gpus=10)
    assert hf.gpus_per_job == hf.layout.gpus_per_replica == 2  # 14.5 GB of fp16 weights
    assert hf.token_budget(16384) == hf.layout.batch_tokens
    per_job = auto.but(backend="vllm", vllm={"shared_engine": False})
    vllm = schedule(per_job, 16384, 10, host_gpus=10)
    assert (vllm.gpus_per_job, vllm.replicas) == (2, 0)  # each job loads its own engine
    assert vllm.vllm_parallel() == {"tensor_parallel": 2, "pipeline_parallel": 1}
    assert vllm.token_budget(16384) == 16384  # vLLM sizes its own KV cache

    # the shared engine: one per replica holds the plan's GPUs; the jobs are its clients
    shared = schedule(auto.but(backend="vllm"), 16384, 10, host_gpus=10, shards=4)
    assert (shared.gpus_per_job, shared.threads) == (0, 0)
    assert (shared.engine_gpus, shared.engine_threads) == (2, 8)
    assert shared.replicas == 4  # 10 GPUs hold 5 replicas, 4 shards use 4
    assert [shared.replica_of(s) for s in ("000", "001", "005")] == [0, 1, 1]
    assert shared.vllm_parallel() == {"tensor_parallel": 2, "pipeline_parallel": 1}
    assert schedule(auto.but(backend="vllm"), 16384, 4, 10, shards=4).replicas == 2
    assert schedule(auto.but(backend="vllm"), 16384, None, 10, shards=4).replicas == 1
    on_cpu = schedule(base.but(backend="vllm", device="cpu"), 16384, None, 0, shards=4)
    assert (on_cpu.replicas, on_cpu.engine_gpus, on_cpu.engine_threads) == (1, 0, 8)
