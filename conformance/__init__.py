"""The conformance gate: every framework's SELU and derivative against `reference`.

Implementations under test (registry.py, frameworks/), input sets (inputs.py; the
worst-case corpus, corpus.py and data/worst/), ULP measurement, the policy, the inputs a
run learned to leave out (learned.py), the destinations checked before a run
(destinations.py), the pytest gate and `python -m conformance list|run|check|sweep|report`; the
exhaustive sweeps (sweep/), the timing the asv benchmarks use (speed.py), the comparison
report (report/) and the self-normalisation checks (selfnorm/). ../shared/DESIGN.md holds
the contract.
"""
