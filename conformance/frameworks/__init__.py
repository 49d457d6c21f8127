"""One module per framework: the code that calls it. Imported only inside a worker process.

Each module provides:

    version() -> str                      the framework's version
    devices() -> list[str]                "cpu", and "cuda" where a GPU is usable
    set_threads(n) -> None                one intra-op thread (called before any other call)
    build(variant, quantity, device) -> f f(x: numpy.ndarray) -> numpy.ndarray, elementwise:
                                          selu ("forward") or its derivative ("gradient")
    snippet(variant, quantity, dtype, device, x_hex) -> str
                                          one line of Python that reproduces one value

`build` returns a function that converts the numpy input the way a user would, calls the
framework and converts back; bfloat16 arrays are ml_dtypes.bfloat16 on both sides. Inputs
may be non-contiguous views and 0-d arrays: adapters pass them on as they are.
"""
