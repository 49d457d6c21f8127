"""The conformance gate: every framework's SELU and derivative against `reference`.

Not built yet: it arrives with the conformance issue (implementations under test, input
sets, ULP measurement, policy, pytest gate, `python -m conformance list|run|check`), then
the exhaustive sweeps, the asv benchmarks of the implementations and the report.
See ../shared/DESIGN.md for the contract it will implement.
"""
