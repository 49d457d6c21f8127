# The README's two commands, `make test` and `make report`, do all the set-up themselves:
# they create .venv from constraints.txt when it is missing or out of date.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
REQS   := constraints.txt $(wildcard requirements/*.txt)

ASV     := $(VENV)/bin/asv
ASV_ENV := --environment existing:$(CURDIR)/$(PY)
MACHINE ?= $(shell hostname)
COMMIT   = $(shell git rev-parse HEAD)

.PHONY: help setup test test-self test-cluster gate gate-more lint report bench bench-quick bench-reference bench-steadiness sweep \
	sweep-verify envs matrix bench-matrix bench-compare own-envs clean

help:
	@echo "make test    lint, the suite's self-tests and the conformance gate (results/gate.json)"
	@echo "make test-cluster   the sweep and the matrix on a local Dask cluster (CI runs it)"
	@echo "make gate-more   the rest of the gate: the compilers per shape (torch.compile, XLA,"
	@echo "             Keras on JAX), OpenVINO, tinygrad, ExecuTorch, forward mode, MLX,"
	@echo "             PaddlePaddle, MindSpore, and their quick benchmarks (results/gate-more.json;"
	@echo "             CI runs it after make test)"
	@echo "make report  runs the suite and writes the comparison report"
	@echo "make setup   creates .venv with every pinned dependency (done by the two above)"
	@echo "make lint    ruff"
	@echo "make bench   asv: every implementation's speed, forward and backward, against the"
	@echo "             scale y=2x (.asv/results, versions in .asv/environments, site .asv/html)"
	@echo "make bench-compare A=REV B=REV   asv compare of two revisions (or env:NAME), each"
	@echo "             case interleaved A B B A B A A B; too-noisy ones labelled (.asv/compare/)"
	@echo "make bench-quick   asv check, and every benchmark once (part of make test)"
	@echo "make bench-reference   speed of the ground truth"
	@echo "make bench-steadiness  how steady this machine's speed is, over 70 minutes: can two"
	@echo "             make bench runs agree within 5 % here? (results/steadiness.json)"
	@echo "make sweep   every float32 input of every implementation, forward and derivative,"
	@echo "             and a float64 worst-case search (results/sweeps.json, results/worst/)"
	@echo "make sweep-verify   the sweep of -0..-2^-95 against an independent check"
	@echo "make envs    build every environment of conformance/data/environments.toml with uv"
	@echo "make matrix  the gate in every environment: numerics across framework releases"
	@echo "             (summary: $(MATRIX_SUMMARY), each cell: results/matrix/)"
	@echo "make bench-matrix   asv's benchmarks in every environment (.asv/results)"

# The stamp is rebuilt when the pins change, so a framework upgrade reaches .venv.
$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -r requirements/all.txt
	$(PY) -m tools.programs --install
	@touch $@

setup: $(STAMP)

# The adapters' own environments (paddle-3.3: its pins conflict with the suite's;
# mindspore-2.10: an 800 MB wheel only make gate-more needs), built by
# uv from their locks; up to date in a second when the locks have not changed. Not part of
# make test: only make gate-more's implementations run in them.
own-envs: setup
	@$(PY) -m conformance env build --own

# The self-tests of the suite's machinery, then the conformance gate over every pinned
# implementation (results.json of the gate: results/gate.json). Each part says how long
# it took; the first failing part stops the run with its status.
# bench-quick times the main part's implementations (BENCH_PART=more: make gate-more's).
BENCH_PART ?= main
TEST_PARTS := setup lint test-self gate bench-quick
test:
	@for part in $(TEST_PARTS); do \
	  start=$$(date +%s); \
	  $(MAKE) --no-print-directory $$part || exit $$?; \
	  echo "make test: $$part took $$(( $$(date +%s) - start )) s"; \
	done

test-self: setup
	$(PY) -m pytest tests -m "not cluster"

# The sweep and the matrix on a local Dask cluster (tests/test_cluster.py): workers killed,
# a client killed and resumed, a worker of other code refused, shards merged. Minutes of
# clusters starting and stopping, so not part of make test; CI runs it after (.ci/run).
test-cluster: setup
	$(PY) -m pytest tests -m cluster

gate: setup
	$(PY) -m pytest conformance --part main --json results/gate.json

# The rest of the gate: the implementations whose checks take minutes (Adapter.gate =
# GatePart.MORE: torch.compile's, XLA's, JAX's (Keras on JAX), OpenVINO's and tinygrad's
# compilers per shape, ExecuTorch's exporter, forward-mode AD) or would take make test
# past 15 minutes (MLX; PaddlePaddle and MindSpore in their own environments), then their
# quick benchmarks; CI runs it after make test (.ci/run).
gate-more: own-envs
	$(PY) -m pytest conformance/test_gate.py --part more --json results/gate-more.json
	$(MAKE) --no-print-directory bench-quick BENCH_PART=more

lint: setup
	$(VENV)/bin/ruff check reference conformance benchmarks tests tools examples
	$(VENV)/bin/ruff format --check reference conformance benchmarks tests tools examples

# The comparison report (report/index.html, report/report.md) from a real run of the gate
# (results/results.json; a gate finding does not stop the report, which shows it), the
# float32 sweeps where `make sweep` has made them, and the quick benchmarks, or the full
# asv results where `make bench` has saved them for this machine.
REPORT_RESULTS = results/results.json $(wildcard results/sweeps.json)
report: own-envs
	$(PY) -m conformance run --json results/results.json || [ $$? -eq 1 ]
	$(MAKE) --no-print-directory bench-quick BENCH_PART=main
	$(MAKE) --no-print-directory bench-quick BENCH_PART=more  # asv keeps both in one file
	$(PY) -m conformance report $(addprefix --results ,$(REPORT_RESULTS)) --asv .asv/results \
	  --machine $(if $(wildcard .asv/results/$(MACHINE)/*-existing-*.json),$(MACHINE),$(MACHINE)-quick) \
	  $(if $(wildcard $(MATRIX_SUMMARY)),--matrix $(MATRIX_SUMMARY)) --out report

# Speed of the reference (target: 2^24 float32 inputs in at most 1 s).
bench-reference: setup
	$(PY) -m reference bench

# Fixed numpy kernels (core, DRAM, page faults) timed every 10 s for as long as two
# `make bench` runs: whether their halves differ by more than 5 % (benchmarks/steadiness.py).
bench-steadiness: setup
	$(PY) -m benchmarks.steadiness --minutes 70 --json results/steadiness.json

# The full asv run on this machine: results saved for the checked-out commit (a framework
# upgrade is a commit to constraints.txt, so `asv compare A B` shows its effect), the
# framework versions and device names beside them (asv's existing environment records
# neither), then the HTML site (.asv/html; `asv preview` serves it). A case that failed
# fails the target, after the site and the summary are made.
bench: setup
	$(ASV) machine --yes --machine $(MACHINE) >/dev/null
	status=0; \
	$(ASV) run $(ASV_ENV) --machine $(MACHINE) --set-commit-hash $(COMMIT) --record-samples \
	  || status=$$?; \
	$(PY) -m benchmarks.speed environment .asv/environments/$(MACHINE)/$(COMMIT).json && \
	$(ASV) publish && \
	$(PY) -m benchmarks.speed summary --machine $(MACHINE) && exit $$status

# asv's verdict on two revisions or environments (A, B: a revision or env:NAME), each case
# in processes A B B A B A A B (gating.toml) so that both share the machine's drift; asv
# compare --factor from conformance/data/gating.toml, each flagged case checked against its spread
# (.asv/compare/<A>-vs-<B>/: compare.txt, verdict.json). BENCH: an asv -b pattern (default:
# time_selu of the cpu cases at 2^20 and 2^24 in float32 and float64; the track_ figures
# have no samples to test).
A ?= HEAD
B ?= HEAD
BENCH ?= bench_selu\.\w+\.time_selu\(.*'(float32|float64)', (1048576|16777216), 'cpu'\)
bench-compare: setup
	$(PY) -m benchmarks.compare $(A) $(B) -b "$(BENCH)" $(if $(NAME),--name $(NAME))

# asv check, and every benchmark once (at the smallest size, for every implementation,
# dtype, device and direction), to prove they run. The figures of one call are saved
# under the machine name <host>-quick, apart from `make bench`'s, for `make report` on a
# machine that has no full run. Without an NVIDIA driver the cuda cases are left out here
# (`make bench` records them as skipped, with the reason): each costs a process that only
# skips.
QUICK_DEVICES := $(if $(wildcard /dev/nvidiactl),,cpu)
bench-quick: setup
	$(ASV) machine --yes --machine $(MACHINE)-quick >/dev/null
	$(ASV) check $(ASV_ENV)
	ids=$$($(PY) -m conformance.registry --part $(BENCH_PART)); \
	SELU_BENCH_QUICK=1 $(ASV) run $(ASV_ENV) --machine $(MACHINE)-quick \
	  --set-commit-hash $(COMMIT) -a rounds=1 -a repeat=1 -a number=1 -a warmup_time=0 \
	  -b "bench_selu\..*\('($$ids)', .*, 4096, '$(QUICK_DEVICES)" \
	  $(if $(filter main,$(BENCH_PART)),-b bench_reference -b bench_bandwidth)

# Every available implementation, forward and derivative: all 2^32 float32 inputs each,
# and the float64 worst-case search. Resumable: run it again after an interruption.
sweep: own-envs
	$(PY) -m conformance sweep --all --json results/sweeps.json

# The sweep of 0x80000000..0x90000000 (-0 down to -2^-95) for torch/functional, forward
# and derivative, against tests/independent_sweep.py (longdouble and MPFR, no reference).
sweep-verify: setup
	SWEEP_VERIFY_RANGE=0x80000000:0x90000000 $(PY) -m pytest -s tests/test_sweep.py \
	  -k independent

# The environments of other framework releases, built by uv from the committed locks
# (conformance/data/environments/*.txt; `python -m conformance env lock NAME` rewrites one).
envs: setup
	$(PY) -m conformance env build --all
	$(PY) -m conformance env list

# The gate in every cell of the matrix: each environment, and the suite's own pins. Each
# cell's results are kept under results/matrix/ with the key of its lock and of the
# suite's code: a rerun measures only what changed, a killed run resumes. The summary is
# data the report shows (committed: $(MATRIX_SUMMARY)).
MATRIX_SUMMARY := docs/matrix/summary.json
matrix: own-envs
	$(PY) -m conformance matrix --json $(MATRIX_SUMMARY)

# asv's benchmarks in each environment, labelled by its interpreter (asv publish shows
# one series per environment; `python -m conformance report --compare A.json B.json`
# compares two of them). BENCH_MATRIX_ARGS=--quick: each benchmark once.
BENCH_MATRIX_ARGS ?=
bench-matrix: own-envs
	$(PY) -m benchmarks.matrix --machine $(MACHINE) $(BENCH_MATRIX_ARGS)
	$(ASV) publish

clean:
	rm -rf $(VENV) .tox .pytest_cache .ruff_cache .asv
