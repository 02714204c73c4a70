# Live-code blog: every figure, animation and number of the post is rebuilt from blog/.
# `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements.stamp
PROFILE ?= default
JOBS    ?=

.PHONY: help setup test lint figures check bench site serve clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv and install requirements.txt (no-op when unchanged)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

test: setup  ## run the whole test suite (pytest's "no tests" exit 5 counts as success)
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

lint: setup  ## ruff over the project
	$(PY) -m ruff check .

figures: setup  ## build every figure, the GIF and the generated sections of the post
	$(PY) -m figures_pipeline build --profile $(PROFILE) $(if $(JOBS),--jobs $(JOBS))

check: setup  ## fail if the published post is stale (imports no torch, trains nothing)
	$(PY) -m figures_pipeline check

bench: setup  ## print the speed and quality benchmarks (medians of repeated runs)
	@for b in tests/bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:  ## remove the venv, caches and Hugo output (not the committed figures)
	rm -rf $(VENV) .cache public resources .hugo_build.lock .pytest_cache .ruff_cache
