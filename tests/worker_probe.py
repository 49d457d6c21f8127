"""Helpers for tests/test_worker.py, loaded as user functions."""


def describe(x):
    """x * 0 + 1 where the array the function received is C-contiguous, + 0 otherwise."""
    return (x * 0 + (1 if x.flags.c_contiguous else 0)).astype(x.dtype)


def raises(x):
    return 1 / 0


def _temporary_file():
    """A file in the temporary folder that only an atexit handler removes, as TensorFlow's
    autograph does with the modules it generates."""
    import atexit
    import os
    import tempfile

    fd, path = tempfile.mkstemp(prefix="worker-probe-", suffix=".py")
    os.close(fd)
    atexit.register(os.unlink, path)


def leaves_a_temporary_file(x):
    _temporary_file()
    return x


def leaves_a_temporary_file_and_hangs(x):
    import time

    _temporary_file()
    time.sleep(3600)
