# The README's two commands, `make test` and `make report`, do all the set-up themselves:
# they create .venv from constraints.txt when it is missing or out of date.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
REQS   := constraints.txt $(wildcard requirements/*.txt)

.PHONY: help setup test test-self gate lint report bench-reference bench-quick sweep sweep-verify clean

help:
	@echo "make test    lint, the suite's self-tests and the conformance gate (results/gate.json)"
	@echo "make report  runs the suite and writes the comparison report"
	@echo "make setup   creates .venv with every pinned dependency (done by the two above)"
	@echo "make lint    ruff"
	@echo "make bench-reference, make bench-quick   speed of the reference; asv, once each"
	@echo "make sweep   every float32 input of every implementation, forward and derivative,"
	@echo "             and a float64 worst-case search (results/sweeps.json, results/worst/)"
	@echo "make sweep-verify   the sweep of -0..-2^-95 against an independent check"

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
	@echo "Not built yet: the asv benchmarks of the implementations and the HTML/Markdown"
	@echo "comparison report; today the report is results/results.json and the lines above"
	@echo "(and results/sweeps.json, from \`make sweep\`)."

# Speed of the reference (target: 2^24 float32 inputs in at most 1 s).
bench-reference: setup
	$(PY) -m reference bench

# Every asv benchmark once, on the project's environment (machine facts without prompts).
bench-quick: setup
	$(VENV)/bin/asv machine --yes >/dev/null
	$(VENV)/bin/asv run --quick --show-stderr --environment existing:$(CURDIR)/$(PY)

# Every available implementation, forward and derivative: all 2^32 float32 inputs each,
# and the float64 worst-case search. Resumable: run it again after an interruption.
sweep: setup
	$(PY) -m conformance sweep --all --json results/sweeps.json

# The sweep of 0x80000000..0x90000000 (-0 down to -2^-95) for torch/functional, forward
# and derivative, against tests/independent_sweep.py (longdouble and MPFR, no reference).
sweep-verify: setup
	SWEEP_VERIFY_RANGE=0x80000000:0x90000000 $(PY) -m pytest -s tests/test_sweep.py \
	  -k independent

clean:
	rm -rf $(VENV) .tox .pytest_cache .ruff_cache .asv
