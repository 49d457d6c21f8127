# The README's two commands, `make test` and `make report`, do all the set-up themselves:
# they create .venv from constraints.txt when it is missing or out of date.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
REQS   := constraints.txt $(wildcard requirements/*.txt)

.PHONY: help setup test test-self lint report bench-reference clean

help:
	@echo "make test    self-tests of the suite (and the conformance gate, once built)"
	@echo "make report  runs the suite and writes the comparison report"
	@echo "make setup   creates .venv with every pinned dependency (done by the two above)"
	@echo "make lint    ruff"

# The stamp is rebuilt when the pins change, so a framework upgrade reaches .venv.
$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -r requirements/all.txt
	@touch $@

setup: $(STAMP)

test: setup
	$(PY) -m pytest tests

lint: setup
	$(PY) -m ruff check reference conformance benchmarks tests

report: setup
	$(PY) -m conformance report

# Speed of the reference (issue: 2^24 float32 inputs in at most 1 s).
bench-reference: setup
	$(PY) -m reference bench

clean:
	rm -rf $(VENV) .tox .pytest_cache .ruff_cache .asv
