"""Helpers for tests/test_worker.py, loaded as user functions."""


def describe(x):
    """x * 0 + 1 where the array the function received is C-contiguous, + 0 otherwise."""
    return (x * 0 + (1 if x.flags.c_contiguous else 0)).astype(x.dtype)


def raises(x):
    return 1 / 0
