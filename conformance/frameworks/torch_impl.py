"""PyTorch: torch/functional, torch/module, torch/inplace, torch/compile, and the
self-normalisation stack (torch.nn.Linear layers, torch.nn.SELU, autograd).

numpy arrays become tensors with torch.from_numpy, which keeps the array's strides, so a
non-contiguous view reaches the kernel as a strided tensor (bfloat16 goes through an int16
view, since numpy has no bfloat16 that torch knows). The derivative is autograd's:
y.backward(ones) on a leaf tensor, elementwise because SELU is.

PyTorch has no lecun_normal; its documentation of torch.nn.SELU says to initialise with
torch.nn.init.kaiming_normal_(…, nonlinearity='linear') (gain 1, so variance 1/fan_in with
mode='fan_in', the default), not with nonlinearity='selu', whose gain 3/4 is meant for
other initialisers. That is the call the self-normalisation stack uses.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import ml_dtypes
import numpy as np

from conformance.frameworks.base import Adapter, GatePart, Kernels, SelfNormSuite, Variant, no_wait
from conformance.frameworks.base import SelfNormCheck as Check

if TYPE_CHECKING:
    import torch

ADAPTER = Adapter(
    name="torch",
    module="torch_impl",
    packages=("torch",),
    order=1,
    variants=(
        Variant("functional", "torch.nn.functional.selu; autograd for the derivative"),
        Variant("module", "torch.nn.SELU()"),
        Variant("inplace", "torch.nn.functional.selu(x, inplace=True) on a copy"),
        Variant(
            "compile",
            "torch.compile(torch.nn.functional.selu)",
            eager="functional",
            gate=GatePart.MORE,  # make gate-more: Inductor compiles each shape and dtype
        ),
        Variant(
            "jvp",
            "torch.func.jvp(torch.nn.functional.selu, (x,), (ones,)): forward mode, the "
            "primal and the tangent",
            gate=GatePart.MORE,  # make gate-more: the same kernel as torch/functional
        ),
    ),
    selfnorm=(
        SelfNormSuite(
            "torch",
            (
                Check.STACK,
                Check.LECUN_NORMAL,
                Check.ALPHA_DROPOUT_MOMENTS,
                Check.ALPHA_DROPOUT_SATURATION,
            ),
        ),
    ),
    # torch.compile's own modules, a few seconds of imports that every compiled case needs.
    warm_imports=("torch._dynamo", "torch._inductor.compile_fx"),
)

_BF16 = np.dtype(ml_dtypes.bfloat16)


def version() -> str:
    import torch

    return torch.__version__


def devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def cpu_capability() -> str:
    """The instruction set of the CPU kernels ATen dispatches to ("AVX2", "AVX512"; set by
    ATEN_CPU_CAPABILITY or found from the CPU)."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def device_names() -> dict[str, str]:
    """The GPU's name, where torch sees one (for the benchmarks' environment file)."""
    import torch

    return {"cuda": torch.cuda.get_device_name(0)} if torch.cuda.is_available() else {}


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def to_torch(x: np.ndarray, device: str) -> torch.Tensor:
    import torch

    if x.dtype == _BF16:
        t = torch.from_numpy(x.view(np.int16)).view(torch.bfloat16)
    else:
        t = torch.from_numpy(x)
    return t if device == "cpu" else t.to(device)


def to_numpy(t: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    import torch

    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().copy().view(ml_dtypes.bfloat16)
    return t.numpy().copy()


def _selu_function(variant: str, quantity: str):
    import torch

    if variant == "functional":
        return torch.nn.functional.selu
    if variant == "module":
        return torch.nn.SELU()
    if variant == "inplace":
        # On a copy: the caller's tensor is not touched, and autograd records selu_, whose
        # backward is computed from the result (elu_backward with is_result=True).
        return lambda t: torch.nn.functional.selu(t.clone(), inplace=True)
    if variant == "compile":
        # One compiled function per quantity: requires_grad differs, and sharing one would
        # recompile on every switch. dynamic=True: one kernel for every array size.
        return torch.compile(torch.nn.functional.selu, dynamic=True)
    raise ValueError(f"unknown torch variant {variant!r}")


def _jvp(t: torch.Tensor, tangent: torch.Tensor, f=None):
    """(f(t), f'(t)·tangent) by forward-mode AD (torch.func.jvp), f = selu by default."""
    import torch

    return torch.func.jvp(f or torch.nn.functional.selu, (t,), (tangent,))


@functools.cache
def build(variant: str, quantity: str, device: str):
    import torch

    if variant == "jvp":

        def forward_mode(x: np.ndarray) -> np.ndarray:
            t = to_torch(x, device)
            primal, tangent = _jvp(t, torch.ones_like(t))
            return to_numpy(primal if quantity == "forward" else tangent, x.dtype)

        return forward_mode
    f = _selu_function(variant, quantity)

    def forward(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return to_numpy(f(to_torch(x, device)), x.dtype)

    def gradient(x: np.ndarray) -> np.ndarray:
        t = to_torch(x, device).detach().requires_grad_(True)
        y = f(t)
        y.backward(torch.ones_like(y))
        return to_numpy(t.grad, x.dtype)

    return forward if quantity == "forward" else gradient


def _wait(device: str):
    import torch

    return (lambda output: torch.cuda.synchronize()) if device == "cuda" else no_wait


def _scale_function(variant: str):
    import torch

    if variant == "compile":
        return torch.compile(lambda t: t * 2, dynamic=True)
    return lambda t: t * 2


def kernels(variant: str, direction: str, device: str, x: np.ndarray, g: np.ndarray) -> Kernels:
    """torch.no_grad() for the forward; autograd.grad(y, x, g) for the backward.

    torch/inplace works on a buffer of its own: the forward applies selu_ to it again at
    every call (each element keeps its sign, so the share of negative inputs holds, and no
    value becomes subnormal; positive ones grow by λ per call, up to inf, which costs what
    any other value costs), and its scale alternates mul_(2) and mul_(0.5), which leaves the
    values as they were. Its backward goes through a clone, as autograd requires of an
    in-place op on an input: the scale's backward takes the same clone.
    """
    import torch

    t, gt = to_torch(x, device), to_torch(g, device)
    if variant == "jvp":  # one jvp gives both: the forward is timed as the jvp it comes from
        tangent = gt if direction == "backward" else torch.ones_like(t)
        return Kernels(
            lambda: _jvp(t, tangent), lambda: _jvp(t, tangent, lambda v: v * 2), _wait(device)
        )
    if variant == "inplace" and direction == "forward":
        buffers = [t.clone(), t.clone()]
        factor = [2.0]

        def scale_in_place():
            factor[0] = 1 / factor[0]  # 0.5, 2, 0.5, ...: x·2·0.5 = x exactly
            return buffers[1].mul_(factor[0])

        return Kernels(  # the buffers do not require grad: autograd records nothing
            lambda: torch.nn.functional.selu(buffers[0], inplace=True),
            scale_in_place,
            _wait(device),
        )
    if variant == "inplace":
        selu = lambda v: torch.nn.functional.selu(v.clone(), inplace=True)  # noqa: E731
        scale = lambda v: v.clone().mul_(2)  # noqa: E731
    else:
        selu, scale = _selu_function(variant, direction), _scale_function(variant)
    return timed(selu, scale, direction, t, gt, _wait(device))


def timed(selu, scale, direction: str, t: torch.Tensor, gt: torch.Tensor, wait=no_wait):
    """`Kernels` of two functions of a tensor (torch's, or Keras's on the torch backend):
    under torch.no_grad() for the forward; (y, autograd.grad(y, t, gt)) for the backward."""
    import torch

    if direction == "forward":

        def forward(f):
            with torch.no_grad():
                return f(t)

        return Kernels(lambda: forward(selu), lambda: forward(scale), wait)
    leaf = t.detach().requires_grad_(True)

    def value_and_gradient(f):
        y = f(leaf)
        return y, torch.autograd.grad(y, leaf, gt)[0]

    return Kernels(lambda: value_and_gradient(selu), lambda: value_and_gradient(scale), wait)


_CALL = {
    "functional": "torch.nn.functional.selu(x)",
    "module": "torch.nn.SELU()(x)",
    "inplace": "torch.nn.functional.selu(x.clone(), inplace=True)",
    "compile": "torch.compile(torch.nn.functional.selu, dynamic=True)(x)",
}


def snippet(variant, quantity, dtype, device, x_hex) -> str:
    if variant == "jvp":
        make = (
            f"x = torch.tensor([float.fromhex('{x_hex}')], dtype=torch.{dtype}, device='{device}')"
        )
        pick = 0 if quantity == "forward" else 1
        return (
            f'python -c "import torch; {make}; print(torch.func.jvp(torch.nn.functional.selu, '
            f'(x,), (torch.ones_like(x),))[{pick}][0].item().hex())"'
        )

    make = f"x = torch.tensor([float.fromhex('{x_hex}')], dtype=torch.{dtype}, device='{device}')"
    if quantity == "forward":
        body = f"{make}; print({_CALL[variant]}[0].item().hex())"
    else:
        body = (
            f"{make}.requires_grad_(); {_CALL[variant]}.backward(torch.ones(1, dtype=x.dtype, "
            f"device=x.device)); print(x.grad[0].item().hex())"
        )
    return f'python -c "import torch; {body}"'


# -- self-normalisation (conformance/selfnorm) ---------------------------------------------

LECUN_NORMAL = "torch.nn.init.kaiming_normal_(w, mode='fan_in', nonlinearity='linear')"


def lecun_normal(fan_in: int, fan_out: int, seed: int) -> np.ndarray:
    """A (fan_in, fan_out) sample of the initialiser (torch stores Linear weights as
    (out, in), so the sample is transposed to the x @ W orientation)."""
    import torch

    torch.manual_seed(seed)
    weight = torch.empty(fan_out, fan_in)
    torch.nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="linear")
    return weight.T.numpy().copy()


def dense_stack(x: np.ndarray, g: np.ndarray, depth: int, activation: str, seed: int) -> dict:
    """Per-layer mean and variance of the activations of torch.nn.Sequential-style
    Linear → activation layers (zero bias), and the norm of the gradient of sum(h_depth · g)
    with respect to the input and to every layer's output."""
    import torch

    activations = {"selu": torch.nn.SELU, "relu": torch.nn.ReLU}
    torch.manual_seed(seed)
    width = x.shape[1]
    layers = []
    for _ in range(depth):
        linear = torch.nn.Linear(width, width)
        torch.nn.init.kaiming_normal_(linear.weight, mode="fan_in", nonlinearity="linear")
        torch.nn.init.zeros_(linear.bias)
        layers.append(torch.nn.Sequential(linear, activations[activation]()))
    h = torch.from_numpy(x).requires_grad_(True)
    outputs = [h]
    for layer in layers:
        h = layer(h)
        h.retain_grad()
        outputs.append(h)
    (h * torch.from_numpy(g)).sum().backward()
    with torch.no_grad():
        return {
            "means": [t.double().mean().item() for t in outputs[1:]],
            "variances": [t.double().var(unbiased=False).item() for t in outputs[1:]],
            "grad_norms": [t.grad.double().norm().item() for t in outputs],
        }


def alpha_dropout(x: np.ndarray, rate: float, seed: int) -> np.ndarray:
    """torch.nn.AlphaDropout(rate) in training mode."""
    import torch

    torch.manual_seed(seed)
    layer = torch.nn.AlphaDropout(rate)
    layer.train()
    with torch.no_grad():
        return layer(torch.from_numpy(x)).numpy()
