# The README's two commands, `make test` and `make report`, do all the set-up themselves:
# they create .venv from constraints.txt when it is missing or out of date.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
REQS   := constraints.txt $(wildcard requirements/*.txt)

.PHONY: help setup test test-self gate lint report bench-reference bench-quick clean

help:
	@echo "make test    lint, the suite's self-tests and the conformance gate (results/gate.json)"
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

# The self-tests of the suite's machinery, then the conformance gate over every pinned
# implementation (results.json of the gate: results/gate.json).
test: setup lint test-self gate

test-self: setup
	$(PY) -m pytest tests

gate: setup
	$(PY) -m pytest conformance --json results/gate.json

lint: setup
	$(VENV)/bin/ruff check reference conformance benchmarks tests
	$(VENV)/bin/ruff format --check reference conformance benchmarks tests

# Until the report exists, `make report` shows the ground truth, its speed and the gate's
# findings, and says what is still to come.
report: setup
	$(PY) -m reference constants
	$(PY) -m reference bench --repeat 3
	@echo
	$(PY) -m conformance run --json results/results.json
	@echo
	@echo "Not built yet: the exhaustive float32 sweeps, the asv benchmarks of the"
	@echo "implementations and the HTML/Markdown comparison report; today the report is"
	@echo "results/results.json and the lines above."

# Speed of the reference (target: 2^24 float32 inputs in at most 1 s).
bench-reference: setup
	$(PY) -m reference bench

# Every asv benchmark once, on the project's environment (machine facts without prompts).
bench-quick: setup
	$(VENV)/bin/asv machine --yes >/dev/null
	$(VENV)/bin/asv run --quick --show-stderr --environment existing:$(CURDIR)/$(PY)

clean:
	rm -rf $(VENV) .tox .pytest_cache .ruff_cache .asv
