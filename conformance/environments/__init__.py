"""Environments of other framework releases, built by uv from committed lock files.

catalog.py   what environments.toml declares, and where each one lives (.envs/NAME)
build.py     locking (uv pip compile) and building (uv venv + uv pip sync), sizes on disk
command.py   python -m conformance env list | lock | build
"""
