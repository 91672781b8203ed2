# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# GPUs Snakemake may hand out: every NVIDIA GPU this machine sees (0 without one).
GPUS := $(shell nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
GPUS := $(if $(GPUS),$(GPUS),0)
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench dry clean

setup: $(STAMP) resources/models/SmolLM2-135M-Instruct/config.json

# Reinstall only when the dependency list changes; the stamp makes `make setup` quick.
$(STAMP): pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

resources/models/SmolLM2-135M-Instruct/config.json: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --cores 1 models

run: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --cores all --resources gpu=$(GPUS)

bench: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake benchmark --cores all --resources gpu=$(GPUS)

dry: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake -n --cores 8 --resources gpu=10

lint: setup
	$(BIN)/ruff check src scripts tests
	$(BIN)/ruff format --check src scripts tests
	$(BIN)/snakefmt --check Snakefile workflow
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --lint

test: setup lint
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest -ra

clean:
	rm -rf results logs benchmarks .snakemake
