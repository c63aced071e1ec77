# ASASAP — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# pytest-xdist workers: one per core (`make test PYTEST_WORKERS=0` runs everything in this process).
PYTEST_WORKERS ?= auto

.PHONY: demo test lint install messages clean help

help:
	@echo "make demo   - install into .venv, prepare demo nodes under var/demo and serve them (Ctrl-C to stop)"
	@echo "make test   - install into .venv and run the whole test suite"
	@echo "make lint   - ruff and mypy --strict"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[postgres,test,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/asasap demo

test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check node tests bench scripts
	$(BIN)/mypy

messages: $(STAMP)
	scripts/messages.sh

clean:
	rm -rf $(VENV) var/demo
