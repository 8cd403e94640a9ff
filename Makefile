# Developer commands. On a fresh machine with Python 3.11+: `make run` starts both services with a
# private Redis and development data; `make test` lints, type-checks and runs the whole suite. The
# virtual environment is created on first use and re-synced whenever pyproject.toml changes.
#
# Variables: VENV (default .venv), PYTHON (interpreter that creates the venv), PYTEST_ARGS
# (e.g. make test PYTEST_ARGS="-k widgets -x").

VENV ?= .venv
# python3.11 when it exists and runs, else python3; either way checked to be 3.11+ below.
PYTHON ?= $(shell python3.11 -c '' >/dev/null 2>&1 && echo python3.11 || echo python3)
PYTEST_ARGS ?=

PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install embed browser screenshots run test bench lint typecheck fmt clean distclean

# The widget iframe app (livekit-client bundled with esbuild), built when npm exists: without it
# the loader still works and the iframe page answers 503.
EMBED_WEB := runtime_service/embed/web
EMBED_STATIC := runtime_service/embed/static
EMBED_BUNDLE := $(if $(shell command -v npm 2>/dev/null),$(EMBED_STATIC)/manifest.json)

help: ## List the targets
	@echo "Usage: make <target>   (variables: VENV=$(VENV) PYTHON=$(PYTHON) PYTEST_ARGS=...)"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-10s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

# The interpreter of the venv: made once, by a Python that is new enough.
$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
		echo "error: $(PYTHON) not found. Install Python 3.11+ or run make PYTHON=/path/to/python3.11" >&2; \
		exit 1; }
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else \
		"error: Python 3.11+ is required, but $(PYTHON) is %d.%d. Install Python 3.11 or run " \
		"make PYTHON=/path/to/python3.11" % v[:2])'
	@echo "Creating the virtual environment $(VENV) (a few seconds)..."
	$(PYTHON) -m venv $(VENV)

# The project (editable) with its test extras; re-run only when pyproject.toml changes.
$(STAMP): pyproject.toml | $(PY)
	@echo "Installing the project and its test tools into $(VENV) (pip, quietly: about a minute" \
		"the first time, longer on a slow network; again only when pyproject.toml changes)..."
	$(PY) -m pip install --disable-pip-version-check --quiet -e '.[test]'
	@echo "Installed."
	@touch $@

install: $(STAMP) ## Create the virtual environment and install the project with its test tools

$(EMBED_STATIC)/manifest.json: $(EMBED_WEB)/package.json $(EMBED_WEB)/package-lock.json \
		$(EMBED_WEB)/build.mjs $(wildcard $(EMBED_WEB)/src/*)
	cd $(EMBED_WEB) && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

embed: $(EMBED_STATIC)/manifest.json ## Build the widget iframe bundle (npm ci + esbuild)

# Browser tests drive Debian's chromium through Playwright (never a downloaded browser); they
# are skipped, loudly, where it cannot be installed.
browser: ## Install chromium for the browser tests when missing (as root, with apt-get)
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
			|| echo "warning: chromium could not be installed: browser tests will be skipped"; \
	else echo "note: no chromium and no root apt-get: browser tests will be skipped"; fi

screenshots: $(STAMP) $(EMBED_STATIC)/manifest.json browser ## Refresh docs/embed-screens/ (the widget's states)
	EMBED_SCREENSHOTS=1 $(PY) -m pytest -q -p no:cacheprovider tests/system/browser/test_embed_states.py -k screenshots

run: $(STAMP) $(EMBED_BUNDLE) ## Run both services with a private Redis and development data (Ctrl-C stops)
	$(PY) deploy/dev_run.py

test: $(STAMP) $(EMBED_BUNDLE) browser ## Lint (ruff), type-check (mypy), then run the whole suite (pytest)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_ARGS)

# The load generator is wrk, from the system's packages: installed here as root with apt-get,
# otherwise `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk` (macOS).
bench: $(STAMP) ## Benchmark the hot paths against bare aiohttp (about 2 minutes; needs wrk)
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get install -y -qq wrk >/dev/null; } || { \
		echo "error: wrk is required: sudo apt-get install wrk (Debian/Ubuntu) or brew install wrk" >&2; \
		exit 1; }
	$(PY) -m bench

lint: $(STAMP) ## Lint only
	$(VENV)/bin/ruff check .

typecheck: $(STAMP) ## Type-check only (mypy --strict on common/ and the services; pyproject.toml)
	$(VENV)/bin/mypy

fmt: $(STAMP) ## Apply ruff's safe fixes (import order, modern syntax)
	$(VENV)/bin/ruff check --fix .

clean: ## Remove caches, build output and make run's data (.run/); keeps the virtual environment
	rm -rf .run build dist test-artifacts .pytest_cache .ruff_cache .mypy_cache *.egg-info
	rm -rf $(EMBED_STATIC) $(EMBED_WEB)/node_modules
	find . \( -name '.venv*' -o -name .git \) -prune -o -name __pycache__ -type d -prune \
		-exec rm -rf {} +

distclean: clean ## clean, and remove the virtual environment too
	rm -rf $(VENV)
