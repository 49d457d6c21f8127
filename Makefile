# The README's two commands, `make test` and `make report`, do all the set-up themselves:
# they create .venv from constraints.txt when it is missing or out of date.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
REQS   := constraints.txt $(wildcard requirements/*.txt)

.PHONY: help setup test lint report bench-reference bench-quick clean

help:
	@echo "make test    lint and self-tests of the suite (and the conformance gate, once built)"
	@echo "make report  runs the suite and writes the comparison report"
	@echo "make setup   creates .venv with every pinned dependency (done by the two above)"
	@echo "make lint    ruff"
	@echo "make bench-reference, make bench-quick   speed of the reference; asv, once each"

# The stamp is rebuilt when the pins change, so a framework upgrade reaches .venv.
$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -r requirements/all.txt
	@touch $@

setup: $(STAMP)

test: setup lint
	$(PY) -m pytest tests

lint: setup
	$(VENV)/bin/ruff check reference conformance benchmarks tests
	$(VENV)/bin/ruff format --check reference conformance benchmarks tests

# Until the conformance gate and the report exist, `make report` shows the ground truth and
# its speed, and says what is still to come.
report: setup
	$(PY) -m reference constants
	$(PY) -m reference bench --repeat 3
	@echo
	@echo "Not built yet: the conformance gate over the frameworks (python -m conformance run),"
	@echo "the exhaustive float32 sweeps, the asv benchmarks of the implementations, and the"
	@echo "HTML/Markdown comparison report. Today: the reference above, and make test."

# Speed of the reference (target: 2^24 float32 inputs in at most 1 s).
bench-reference: setup
	$(PY) -m reference bench

# Every asv benchmark once, on the project's environment (machine facts without prompts).
bench-quick: setup
	$(VENV)/bin/asv machine --yes >/dev/null
	$(VENV)/bin/asv run --quick --show-stderr --environment existing:$(CURDIR)/$(PY)

clean:
	rm -rf $(VENV) .tox .pytest_cache .ruff_cache .asv
