"""The conformance gate: every framework's SELU and derivative against `reference`.

The data flow, room by room: the framework adapters (frameworks/, one module each) and
the registry built from them; input sets (inputs.py, the worst-case corpus corpus.py and
data/worst/, layout.py, views.py); the worker processes (process/); measurement
(measure.py); the policy (policy.py, data/policy.toml); the checks (checks/, one module
each), the context they run in (context.py) and the engine that runs their plan
(engine.py, runner.py); results.json (results.py) and the report (report/); the sweeps
(sweep/) and the self-normalisation checks (selfnorm/); the command line (cli.py) and the
pytest gate (test_gate.py). docs/design.md is the contract; docs/extending.md shows how to
add a framework, a special case, a check or a profile.
"""
