# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# GPUs Snakemake may hand out: every NVIDIA GPU this machine sees (0 without one).
GPUS := $(shell nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
GPUS := $(if $(GPUS),$(GPUS),0)
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench dry clean test-deps report

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

test: setup lint test-deps
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest -ra

report: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --report results/report.html

clean:
	rm -rf results logs benchmarks .snakemake
