"""Maintainers' tools, run from the checkout: `python -m tools.NAME`."""
