"""The process layer: every implementation runs in a worker process (`worker.py`), never in
the suite's own. It knows the worker protocol and nothing of what the checks or the sweeps
do with it: they send it generic operations (call, snippet, task)."""
