"""JAX: jax/nn, jax/jit, and the self-normalisation stack (jax.nn.initializers.lecun_normal,
jax.nn.selu, jax.vjp layer by layer: the gradient with respect to every layer's output).

The worker sets JAX_ENABLE_X64=1 (float64 is otherwise silently computed in float32).
numpy arrays are placed with jax.device_put (a copy); the derivative is jax.vjp with a
cotangent of ones, elementwise because SELU is.
"""

from __future__ import annotations

import functools

import numpy as np

from conformance.frameworks.base import (
    Adapter,
    GatePart,
    Kernels,
    SelfNormSuite,
    Variant,
    appended_flags,
    stack_moments,
)
from conformance.frameworks.base import SelfNormCheck as Check


def thread_environment(n: int) -> dict[str, str]:
    """XLA's CPU client to `n` threads (read when jax is imported)."""
    xla = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={n}"
    return {"XLA_FLAGS": appended_flags("XLA_FLAGS", xla)}


ADAPTER = Adapter(
    name="jax",
    module="jax_impl",
    packages=("jax",),
    distributions=("jax",),
    order=3,
    output_reuse=("jit",),
    variants=(
        Variant("nn", "jax.nn.selu; jax.vjp for the derivative"),
        Variant("jit", "jax.jit(jax.nn.selu)", eager="nn"),
        Variant(
            "jvp",
            "jax.jvp(jax.nn.selu, (x,), (ones,)): forward mode, primal and tangent",
            gate=GatePart.MORE,  # make gate-more: the same rule as jax/nn's derivative
        ),
    ),
    env={"JAX_ENABLE_X64": "1"},  # float64 is otherwise silently computed in float32
    thread_env=thread_environment,
    selfnorm=(SelfNormSuite("jax", (Check.STACK, Check.LECUN_NORMAL)),),
)


def version() -> str:
    import jax

    return jax.__version__


def _jax_device(device: str):
    import jax

    return jax.devices("cpu")[0] if device == "cpu" else jax.devices("gpu")[0]


def devices() -> list[str]:
    import jax

    try:
        jax.devices("gpu")
        return ["cpu", "cuda"]
    except RuntimeError:
        return ["cpu"]


def set_threads(n: int) -> None:
    """Set through XLA_FLAGS by the worker's environment, before jax is imported."""


def _gradient(x):
    import jax
    import jax.numpy as jnp

    y, pullback = jax.vjp(jax.nn.selu, x)
    return pullback(jnp.ones_like(y))[0]


@functools.cache
def build(variant: str, quantity: str, device: str):
    import jax
    import jax.numpy as jnp

    compute = jax.nn.selu if quantity == "forward" else _gradient
    if variant == "jvp":
        pick = 0 if quantity == "forward" else 1
        compute = lambda x: jax.jvp(jax.nn.selu, (x,), (jnp.ones_like(x),))[pick]  # noqa: E731
    elif variant == "jit":
        compute = jax.jit(compute)
    elif variant != "nn":
        raise ValueError(f"unknown jax variant {variant!r}")
    target = _jax_device(device)

    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(compute(jax.device_put(x, target)))

    return call


def value_and_gradient(f):
    """(f(x), g·f'(x)) through jax.vjp: the backward of a training step."""
    import jax

    def compute(x, g):
        y, pullback = jax.vjp(f, x)
        return y, pullback(g)[0]

    return compute


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """jax.nn.selu and x * 2, called as they are (jax/nn) or under jax.jit (jax/jit, one
    compiled function for the value and the gradient)."""
    import jax

    if variant == "jvp":  # one jvp gives both: the forward is timed as the jvp it comes from
        import jax.numpy as jnp

        xd, gd = jax.device_put(x, _jax_device(device)), jax.device_put(g, _jax_device(device))
        tangent = gd if direction == "backward" else jnp.ones_like(xd)
        return Kernels(
            lambda: jax.jvp(jax.nn.selu, (xd,), (tangent,)),
            lambda: jax.jvp(lambda v: v * 2, (xd,), (tangent,)),
            jax.block_until_ready,
        )
    if variant not in ("nn", "jit"):
        raise ValueError(f"unknown jax variant {variant!r}")
    return timed(
        jax.nn.selu, lambda v: v * 2, direction, _jax_device(device), x, g, jit=variant == "jit"
    )


def kernels_into(variant: str, device: str, x) -> Kernels:
    """jax/jit's SELU and scale, each donating the buffer of its previous output
    (donate_argnums, keep_unused so that the unused argument stays): XLA writes the new
    output into it instead of allocating one."""
    import jax
    import jax.numpy as jnp

    assert variant == "jit"
    xd = jax.device_put(x, _jax_device(device))
    calls = []
    for f in (jax.nn.selu, lambda v: v * 2):
        compute = jax.jit(lambda v, _out, f=f: f(v), donate_argnums=1, keep_unused=True)
        state = {"out": jnp.zeros_like(xd)}

        def call(compute=compute, state=state):
            state["out"] = compute(xd, state["out"])
            return state["out"]

        calls.append(call)
    return Kernels(*calls, jax.block_until_ready)


def timed(selu, scale, direction: str, target, x, g, jit: bool = False) -> Kernels:
    """`Kernels` of two functions of a jax array (jax's, or Keras's on the jax backend), on
    the device `target`: f(x) for the forward, `value_and_gradient` for the backward.
    Dispatch is asynchronous on every device: jax.block_until_ready waits for the output."""
    import jax

    xd, gd = jax.device_put(x, target), jax.device_put(g, target)

    def call(f):
        if direction == "forward":
            compute, arguments = f, (xd,)
        else:
            compute, arguments = value_and_gradient(f), (xd, gd)
        if jit:
            compute = jax.jit(compute)
        return lambda: compute(*arguments)

    return Kernels(call(selu), call(scale), jax.block_until_ready)


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    f = "jax.nn.selu" if variant == "nn" else "jax.jit(jax.nn.selu)"
    make = f"x = jnp.array([float.fromhex('{x_hex}')], dtype=jnp.{dtype})"
    if variant == "jvp":
        pick = 0 if quantity == "forward" else 1
        jvp = "jax.jvp(jax.nn.selu, (x,), (jnp.ones_like(x),))"
        body = f"{make}; print(float({jvp}[{pick}][0]).hex())"
    elif quantity == "forward":
        body = f"{make}; print(float({f}(x)[0]).hex())"
    else:
        body = f"{make}; y, g = jax.vjp({f}, x); print(float(g(jnp.ones_like(y))[0][0]).hex())"
    return f'JAX_ENABLE_X64=1 python -c "import jax, jax.numpy as jnp; {body}"'


# -- self-normalisation (conformance/selfnorm) ---------------------------------------------

LECUN_NORMAL = "jax.nn.initializers.lecun_normal()(key, shape)"


def lecun_normal(fan_in: int, fan_out: int, seed: int) -> np.ndarray:
    import jax
    import jax.numpy as jnp

    init = jax.nn.initializers.lecun_normal()
    return np.asarray(init(jax.random.PRNGKey(seed), (fan_in, fan_out), jnp.float32))


def dense_stack(x: np.ndarray, g: np.ndarray, depth: int, activation: str, seed: int) -> dict:
    import jax
    import jax.numpy as jnp

    init = jax.nn.initializers.lecun_normal()
    width = x.shape[1]
    keys = jax.random.split(jax.random.PRNGKey(seed), depth)
    weights = [init(k, (width, width), jnp.float32) for k in keys]
    act = {"selu": jax.nn.selu, "relu": jax.nn.relu}[activation]

    def layer(h, w):
        return act(h @ w)  # zero bias

    outputs = [jnp.asarray(x)]
    for w in weights:
        outputs.append(layer(outputs[-1], w))
    grad = jnp.asarray(g)
    grads = [grad]
    for h, w in zip(reversed(outputs[:-1]), reversed(weights), strict=True):
        _, pullback = jax.vjp(lambda h, w=w: layer(h, w), h)
        grad = pullback(grad)[0]
        grads.append(grad)
    grads.reverse()
    return stack_moments(outputs, grads)
