# Machi — the two commands: `make demo` and `make test`. See README.md.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
MANAGE := $(PY) -m machi

.PHONY: demo test install install-dev lint typecheck importlint migrations-check pytest bench messages clean

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Machi needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make demo: set up, migrate, load demo data (keeps existing data) and serve on HOST:PORT
demo: install
	$(MANAGE) migrate --noinput
	$(MANAGE) collectstatic --noinput --verbosity 0
	$(MANAGE) load-demo --base-url http://$(HOST):$(PORT)
	$(MANAGE) runserver $(HOST):$(PORT)

## make test: lint, format check, types, import contracts, migrations check, pytest
test: install-dev lint typecheck importlint migrations-check pytest

lint: install-dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: install-dev
	$(VENV)/bin/mypy src

importlint: install-dev
	$(VENV)/bin/lint-imports

migrations-check: install-dev
	$(MANAGE) makemigrations --check --dry-run

pytest: install-dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## make bench: production-like server on PostgreSQL + load generator; writes docs/benchmarks.md
bench: install-dev
	$(PY) bench/run.py

## make messages: refresh the translation catalogues (needs GNU gettext)
messages: install-dev
	cd src/machi && ../../$(MANAGE) makemessages -l en -l ja_Easy --no-obsolete && ../../$(MANAGE) compilemessages

clean:
	rm -rf $(VENV) var
