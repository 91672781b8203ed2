# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# GPUs Snakemake may hand out: every NVIDIA GPU this machine sees (0 without one).
GPUS := $(shell nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
GPUS := $(if $(GPUS),$(GPUS),0)
STAMP := $(VENV)/.installed
# The vLLM environment (generator.backend: vllm): its own venv, since vLLM pins
# transformers 5 and the workflow pins 4.57. The CPU wheel unless a GPU is seen.
VLLM_VENV := .venv-vllm
VLLM_REQ := envs/vllm-$(if $(filter 0,$(GPUS)),cpu,cuda).txt
VLLM_STAMP := $(VLLM_VENV)/.installed

.PHONY: setup setup-vllm run test lint bench dry clean test-deps report gpu-check serve soak review

setup: $(STAMP) resources/models/SmolLM2-135M-Instruct/config.json

# Reinstall only when the dependency list changes; the stamp makes `make setup` quick.
$(STAMP): pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup-vllm: $(VLLM_STAMP)

$(VLLM_STAMP): $(VLLM_REQ)
	test -x $(VLLM_VENV)/bin/python || python3.11 -m venv $(VLLM_VENV) || python3 -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install --quiet -r $(VLLM_REQ)
	# vLLM pulls in torchvision/torchaudio, which need only multimodal models and break
	# `import vllm` beside torch 2.13.0+cpu ("operator torchvision::nms does not exist")
	$(VLLM_VENV)/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -c "import vllm; print('vLLM', vllm.__version__)"
	touch $@

resources/models/SmolLM2-135M-Instruct/config.json: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --cores 1 models

run: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --cores all --resources gpu=$(GPUS)

# generator.backend: openai: vLLM's OpenAI-compatible server for generator.model at
# generator.server.base_url, from the vLLM environment, until Ctrl-C.
serve: setup setup-vllm
	$(BIN)/contrastgen serve

bench: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake benchmark --cores all --resources gpu=$(GPUS)

dry: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake -n --cores 8 --resources gpu=10

lint: setup
	$(BIN)/ruff check src scripts tests
	$(BIN)/ruff format --check src scripts tests
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/lint-imports
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --lint

# Debian packages only the tests need: a real browser (report test) and a real Slurm
# (slurm test). Installed when missing and running as root; otherwise those tests skip
# and say why.
TEST_DEBS := chromium slurm-wlm munge
test-deps:
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "test-deps: not root or no apt-get: browser and Slurm tests will skip"; \
	elif ! command -v chromium >/dev/null || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq $(TEST_DEBS) >/dev/null 2>&1 \
	    || { apt-get update -qq && apt-get install -y -qq $(TEST_DEBS) >/dev/null; }; \
	fi

# The vLLM tests run a real vLLM engine: setup-vllm is part of the test setup.
# --durations: where the test time goes, in every CI log (the budget is 45 minutes).
test: setup setup-vllm lint test-deps
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest -ra --durations=30

# The long soak (tests/soak.py): 120 answers through a real vLLM server, 21 faults of 7
# kinds at seeded random times, reruns until complete, then checks what was lost
# (docs/reliability.md). SEED=N replays another schedule. ~16 min on 2 cores.
SEED ?= 7
soak: setup setup-vllm
	PATH=$(CURDIR)/$(BIN):$$PATH $(PY) tests/soak.py --items 120 --faults 21 --seed $(SEED)

# On a machine with an NVIDIA GPU: the transformers strategies on a random-weight
# Mistral-7B next to the planner's memory prediction (tests/gpu/gpu_check.py).
gpu-check: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(PY) tests/gpu/gpu_check.py

# The review page over this directory's finished run (README, "Judge your own data"):
# label a sample, then name LABELS in validator.judged. SIZE pairs, drawn with
# REVIEW_SEED (the CLI's defaults).
LABELS ?= labels/mine.jsonl
SIZE ?= 100
REVIEW_SEED ?= 0
review: setup
	$(BIN)/contrastgen review . --labels $(LABELS) --size $(SIZE) --seed $(REVIEW_SEED)

report: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --report results/report.html

clean:
	rm -rf results logs benchmarks .snakemake
