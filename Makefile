# Machi — the two commands: `make demo` and `make test`. See README.md.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# localhost, not 127.0.0.1: passkeys (WebAuthn) need a host name, and every URL the demo prints,
# signs into documents or sends in links uses this one host (one RP ID).
HOST   ?= localhost
PORT   ?= 8000
MANAGE := $(PY) -m machi
# Locked dependencies with hashes (`make lock` regenerates them from pyproject.toml).
LOCK_RUNTIME := requirements/runtime.txt
LOCK_DEV     := requirements/dev.txt
# Every command of the demo sees the address it is served at.
DEMO_ENV := MACHI_PUBLIC_BASE_URL=http://$(HOST):$(PORT)

.PHONY: demo test install install-dev lint typecheck importlint migrations-check pytest bench \
	messages lock lock-check openapi clean

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Machi needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Exactly the locked versions, each checked against its hash; then Machi itself without deps.
$(VENV)/.installed: $(LOCK_RUNTIME) pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK_RUNTIME)
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: $(LOCK_DEV) pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK_DEV)
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make demo: set up, migrate, load demo data (keeps existing data) and serve on HOST:PORT
## with gunicorn (runserver drops bursts of connections); WhiteNoise serves the static files.
## A task worker runs beside it (mails, refunds: nothing is sent inside a request); Ctrl-C
## stops both.
demo: install
	$(DEMO_ENV) $(MANAGE) migrate --noinput
	$(DEMO_ENV) $(MANAGE) collectstatic --noinput --verbosity 0
	$(DEMO_ENV) $(MANAGE) load-demo --base-url http://$(HOST):$(PORT)
	$(DEMO_ENV) $(MANAGE) tasks-worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(DEMO_ENV) $(VENV)/bin/gunicorn machi.wsgi:application --workers 2 --threads 4 \
		--bind $(HOST):$(PORT) --backlog 2048 --access-logfile - --error-logfile -

## make test: lint, format check, types, import contracts, migrations check, pytest
test: install-dev lint typecheck importlint migrations-check pytest

lint: install-dev
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: install-dev
	$(VENV)/bin/mypy src
	$(VENV)/bin/mypy --config-file bench/mypy.ini bench/*.py

importlint: install-dev
	$(VENV)/bin/lint-imports

migrations-check: install-dev
	$(MANAGE) makemigrations --check --dry-run

pytest: install-dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## make bench: production-like server on PostgreSQL + load generator; writes docs/benchmarks.md
## (`make bench BENCH_ARGS=--quick`: a short developer run; `bench/run.py --help`: the knobs)
bench: install-dev
	$(PY) bench/run.py $(BENCH_ARGS)

## make messages: refresh the translation catalogues (needs GNU gettext)
messages: install-dev
	cd src/machi && ../../$(MANAGE) makemessages -l en -l ja_Easy --no-obsolete && ../../$(MANAGE) compilemessages

## make lock: regenerate requirements/*.txt (with hashes) after changing a pin in pyproject.toml
## (versions already locked are kept where the pins allow; `make lock-check` fails on drift)
UV_COMPILE := $(VENV)/bin/uv pip compile pyproject.toml --quiet --generate-hashes --universal \
	--python-version 3.11 --custom-compile-command 'make lock'
lock: install-dev
	$(UV_COMPILE) -o $(LOCK_RUNTIME)
	$(UV_COMPILE) --extra dev -o $(LOCK_DEV)
	$(MAKE) install-dev

lock-check: install-dev
	@tmp=$$(mktemp -d) && cp $(LOCK_RUNTIME) $(LOCK_DEV) $$tmp/ && \
	$(UV_COMPILE) -o $$tmp/runtime.txt && $(UV_COMPILE) --extra dev -o $$tmp/dev.txt && \
	diff -u $(LOCK_RUNTIME) $$tmp/runtime.txt && diff -u $(LOCK_DEV) $$tmp/dev.txt && \
	rm -rf $$tmp && echo "lock files match pyproject.toml" || \
	{ echo "requirements/*.txt do not match pyproject.toml: run make lock" >&2; exit 1; }

## make openapi: regenerate docs/openapi.json from the API (a test fails when it has drifted)
openapi: install-dev
	$(MANAGE) export-openapi docs/openapi.json

clean:
	rm -rf $(VENV) var
