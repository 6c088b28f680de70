# The two commands: `make demo` (set up, load demo data, serve) and `make test` (set up, run every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5006

.PHONY: demo test install system-deps bench clean

$(BIN)/akig: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "AKIG needs Python 3.11 (found %d.%d); set PYTHON=python3.11" % sys.version_info[:2])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(BIN)/akig

install: $(BIN)/akig

## make demo: embedded PostgreSQL + Redis unless AKIG_DATABASE_URL / AKIG_REDIS_URL are set
demo: install
	$(BIN)/akig demo up --port $(PORT)

## make test: Debian packages for the browser tests, then the whole suite with coverage, on two pytest-xdist
## workers (each test file on one of them, so the servers a module shares start once); PYTEST_WORKERS=0 for
## one process
PYTEST_WORKERS ?= 2

system-deps:
	@scripts/install-system-deps.sh

test: install system-deps
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

bench: install
	$(BIN)/python bench/queries.py

clean:
	rm -rf $(VENV) .pytest_cache .coverage htmlcov
