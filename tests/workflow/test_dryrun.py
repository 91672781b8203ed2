import json
import re
import shutil

from .helpers import REPO, base_config, snakemake


def job_counts(output: str) -> dict[str, int]:
    table = output.split("Job stats:")[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def planned_model(tmp_path, name: str):
    """A model directory with only the config.json of `name` (all the planner reads)."""
    model = tmp_path / name
    model.mkdir()
    shutil.copy(REPO / f"tests/data/model_configs/{name}.json", model / "config.json")
    return model


def sample_config() -> dict:
    config = base_config()
    config["corpus"] = str(REPO / "resources/corpus/sample.jsonl")
    return config


def test_dry_run_lists_every_job_of_every_stage(tmp_path):
    config = base_config()
    config["corpus"] = str(REPO / "resources/corpus/sample.jsonl")
    config["ingest"]["shards"] = 5
    config["refine"]["max_rounds"] = 3
    proc = snakemake(tmp_path, config, "-n", "--cores", "8", "--resources", "gpu=10")
    counts = job_counts(proc.output)
    assert counts["ingest"] == 1
    assert counts["generate"] == 5
    assert counts["validate"] == 5 * 4  # rounds 0..3
    assert counts["refine"] == 5 * 3
    assert counts["merge"] == 1
    assert counts["mine"] == 1  # one job over the whole corpus
    assert not (tmp_path / "results").exists(), "a dry run must not write results"


def test_bad_config_value_names_the_key(tmp_path):
    config = base_config()
    config["corpus"] = str(REPO / "resources/corpus/sample.jsonl")
    config["generation"]["strategy"] = "turbo"
    proc = snakemake(tmp_path, config, "-n", "--cores", "1", check=False)
    assert proc.returncode != 0
    assert "turbo" in proc.output and "strategy" in proc.output


def test_unknown_config_key_is_refused(tmp_path):
    config = base_config()
    config["corpus"] = str(REPO / "resources/corpus/sample.jsonl")
    config["generation"]["temprature"] = 0.5
    proc = snakemake(tmp_path, config, "-n", "--cores", "1", check=False)
    assert proc.returncode != 0 and "temprature" in proc.output


def test_missing_model_and_corpus_are_named(tmp_path):
    config = base_config()
    config["corpus"] = str(tmp_path / "nope.jsonl")
    config["generator"]["model"] = str(tmp_path / "no-model")
    config["validator"]["judged"] = ["bundled", "labels/gone.jsonl"]
    proc = snakemake(tmp_path, config, "-n", "--cores", "1", check=False)
    assert proc.returncode != 0
    assert "corpus: file" in proc.output and "generator.model:" in proc.output
    assert "validator.judged: labels file 'labels/gone.jsonl' does not exist" in proc.output


def test_a_truncated_model_config_and_impossible_settings_stop_the_dry_run(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama", "hidden_si')
    config = base_config()
    config["corpus"] = str(REPO / "resources/corpus/sample.jsonl")
    config["generator"]["model"] = str(model)
    config["ingest"]["min_words"] = 100
    proc = snakemake(tmp_path, config, "-n", "--cores", "1", check=False)
    assert proc.returncode != 0
    assert "generator.model:" in proc.output and "is not valid JSON" in proc.output
    assert "ingest.min_words (100) is larger than ingest.max_words" in proc.output


def test_wrong_type_and_quantization_on_cpu_are_stopped_at_parse_time(tmp_path):
    config = base_config()
    config["corpus"] = str(REPO / "resources/corpus/sample.jsonl")
    config["generation"]["batch_size"] = "many"
    proc = snakemake(tmp_path, config, "-n", "--cores", "1", check=False)
    assert proc.returncode != 0 and "batch_size" in proc.output and "many" in proc.output
    config = base_config()
    config["corpus"] = str(REPO / "resources/corpus/sample.jsonl")
    config["generator"]["quantization"] = "8bit"
    config["generator"]["device"] = "cpu"
    proc = snakemake(tmp_path, config, "-n", "--cores", "1", check=False)
    assert proc.returncode != 0 and "generator.quantization" in proc.output


def test_gpus_per_job_auto_takes_the_planners_gpus_per_replica(tmp_path):
    """10 declared GPU ids of 11 GiB, Mistral-7B in bf16: 2 GPUs per replica, 5 at once."""
    model = planned_model(tmp_path, "mistral-7b")
    config = sample_config()
    config["generator"].update(model=str(model), gpus_per_job="auto", gpu_memory="11GiB")
    ids = {"CONTRASTGEN_GPU_IDS": ",".join(map(str, range(10)))}
    proc = snakemake(tmp_path, config, "-n", "--cores", "8", "--resources", "gpu=10", env=ids)
    generate_jobs = proc.output.split("rule generate:")[1:]
    assert len(generate_jobs) == 4
    assert all("gpu=2" in job.split("\n\n")[0] for job in generate_jobs)
    config["generator"]["gpu_memory"] = "1GiB"  # less than the reserve: stop
    proc = snakemake(tmp_path, config, "-n", "--cores", "8", check=False, env=ids)
    assert proc.returncode != 0 and "generator.gpus_per_job: auto" in proc.output


def test_mixtral_8bit_on_ten_11gib_gpus_plans_generation_jobs_of_five(tmp_path):
    """The users' box: Mixtral-8x7B in 8-bit, 10 declared GPU ids of 11 GiB, the default
    budget as the most a replica takes: the planner's 5 GPUs per replica (at a smaller
    budget) become each generation job's `gpu=5`, two at once."""
    model = planned_model(tmp_path, "mixtral-8x7b")
    config = sample_config()
    config["generator"].update(
        model=str(model), gpus_per_job="auto", gpu_memory="11GiB", quantization="8bit"
    )
    ids = {"CONTRASTGEN_GPU_IDS": ",".join(map(str, range(10)))}
    proc = snakemake(tmp_path, config, "-n", "--cores", "8", "--resources", "gpu=10", env=ids)
    generate_jobs = proc.output.split("rule generate:")[1:]
    assert len(generate_jobs) == 4
    assert all("gpu=5" in job.split("\n\n")[0] for job in generate_jobs)
    assert "generation plan: 5 GPUs per job, 2 jobs at once on gpu=10" in proc.output
    assert "(4 GPUs idle)" in proc.output  # what the unchosen default budget would cost


def test_a_servers_clients_hold_no_gpu_and_a_user_resource_bounds_them(tmp_path):
    """backend: openai on a host with 10 GPU ids: generation jobs are light clients (gpu=0,
    no plan), and `--set-resources` adds the user's own bound on them."""
    config = base_config()
    config["corpus"] = str(REPO / "resources/corpus/sample.jsonl")
    config["generator"].update(backend="openai", gpus_per_job="auto", gpu_memory="11GiB")
    ids = {"CONTRASTGEN_GPU_IDS": ",".join(map(str, range(10)))}
    bound = ["--set-resources", "generate:llm_server=1", "refine:llm_server=1"]
    args = ["-n", "--cores", "8", *bound, "--resources", "gpu=10", "llm_server=2"]
    proc = snakemake(tmp_path, config, *args, env=ids)
    jobs = [j.split("\n\n")[0] for j in re.split(r"rule (?:generate|refine):", proc.output)[1:]]
    assert len(jobs) == 4 * (1 + config["refine"]["max_rounds"])
    assert all("gpu=0, llm_server=1" in job for job in jobs), jobs[0]
    assert "generation plan" not in proc.output
    # parse time: the key's variable must exist, quantization is the server's
    config["generator"]["server"]["api_key_env"] = "CONTRASTGEN_NO_SUCH_KEY"
    config["generator"]["quantization"] = "8bit"
    proc = snakemake(tmp_path, config, "-n", "--cores", "1", check=False)
    assert proc.returncode != 0
    assert "CONTRASTGEN_NO_SUCH_KEY is not set" in proc.output
    assert "with a server, quantization is the server's" in proc.output
    assert "Traceback" not in proc.output


def job_blocks(output: str, rules: str) -> list[tuple[str, int, str]]:
    """(rule, threads, resources) of each listed job of `rules` (a regex alternative)."""
    found = re.finditer(
        rf"rule ({rules}):\n.*?threads: (\d+)\n\s+resources: ([^\n]*)", output, re.S
    )
    return [(m[1], int(m[2]), m[3]) for m in found]


def test_the_shared_engine_holds_the_gpus_and_its_clients_none(tmp_path):
    """backend: vllm (shared engine, the default), Mistral-7B planned on 10 declared GPU
    ids of 11 GiB: one engine job per replica per round holds the plan's 2 GPUs and the
    threads; the generate/refine jobs are its clients with gpu=0 and no core, grouped with
    their engine. With shared_engine: false each job holds the 2 GPUs itself."""
    model = planned_model(tmp_path, "mistral-7b")
    config = sample_config()
    config["generator"].update(
        backend="vllm", model=str(model), gpus_per_job="auto", gpu_memory="11GiB", threads=6
    )
    ids = {"CONTRASTGEN_GPU_IDS": ",".join(map(str, range(10)))}
    proc = snakemake(tmp_path, config, "-n", "--cores", "8", "--resources", "gpu=10", env=ids)
    rounds = 1 + config["refine"]["max_rounds"]
    engines = job_blocks(proc.output, "engine")
    assert len(engines) == 4 * rounds  # 5 replicas fit, 4 shards use 4
    assert all(threads == 6 and "gpu=2" in res for _, threads, res in engines), engines
    clients = job_blocks(proc.output, "generate|refine")
    assert len(clients) == 4 * rounds
    assert all(threads == 0 and "gpu=0" in res for _, threads, res in clients), clients
    assert proc.output.count("Group job") == 4 * rounds  # an engine with its shard's client
    assert "results/engine/round2/replica3.json (service)" in proc.output

    config["generator"]["vllm"]["shared_engine"] = False
    proc = snakemake(tmp_path, config, "-n", "--cores", "8", "--resources", "gpu=10", env=ids)
    assert not job_blocks(proc.output, "engine") and "Group job" not in proc.output
    clients = job_blocks(proc.output, "generate|refine")
    assert len(clients) == 4 * rounds and all("gpu=2" in res for _, _, res in clients)


def test_a_bom_prefixed_avdn_corpus_gets_its_export(tmp_path):
    episodes = [
        {"episode_id": "e0", "dialogs": [{"turn_id": 1, "answer": "turn left at the red car"}]}
    ]
    corpus = tmp_path / "episodes.json"
    corpus.write_bytes(b"\xef\xbb\xbf" + json.dumps(episodes).encode())
    config = base_config()
    config["corpus"] = str(corpus)
    proc = snakemake(tmp_path, config, "-n", "--cores", "2", "--resources", "gpu=0")
    assert job_counts(proc.output)["export_avdn"] == 1
