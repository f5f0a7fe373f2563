# Two commands set everything up on a fresh Debian machine with Python 3.11+:
#   make demo   the whole service against the local sandbox (http://127.0.0.1:8000, Prefect UI on :4200)
#   make test   the test suite (what CI runs)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install demo up test test-quick lint bench chromium clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[aws,dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP) web/node_modules/.installed

demo: install
	$(BIN)/changelogs up --sandbox

up: install
	$(BIN)/changelogs up

# Debian's chromium for the browser tests (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y --no-install-recommends chromium || \
	    { apt-get update && apt-get install -y --no-install-recommends chromium; }; \
	  else echo "Debian's chromium is needed for the browser tests: sudo apt-get install chromium"; exit 1; fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: install chromium lint
	$(BIN)/pytest

test-quick: install
	$(BIN)/pytest -m "not e2e"

bench: install
	$(BIN)/python -m bench.parse
	$(BIN)/python -m bench.resolve

clean:
	rm -rf $(VENV) web/node_modules .pytest_cache .ruff_cache
