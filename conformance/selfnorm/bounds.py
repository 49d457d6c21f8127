"""The bounds of the self-normalisation checks, derived from the batch's sampling error and
the reference's moments of selu(Z) (`reference.moments`), Z ~ N(0, 1).

Activations. At the fixed point every activation is distributed as selu(Z): mean 0,
variance 1, fourth moment m4 = E[selu(Z)⁴]. The mean over a layer's batch × width
activations is taken as having the standard error of `batch` independent draws: the
`width` units of one row share that row's input, so they are not counted as independent
(a conservative choice that also covers the finite-width fluctuation of each layer's
weights, of the order 1/√width per unit). Hence

    |mean|         <= z · 1/√batch
    |variance - 1| <= z · √(m4 - 1)/√batch          (the variance of a squared draw)

at every layer.

Input gradient. Back through a dense layer with weights of variance 1/fan_in the squared
norm of the gradient is multiplied on average by χ = E[selu'(Z)²] (square layers), so from
the last layer back to the input it grows by χ^depth: the norm by √χ per layer, ≈ 9.1 over
64 layers, neither vanishing nor exploding. The factor of one layer fluctuates with the
layer's random weights and units: its relative variance is about
(3·E[selu'(Z)⁴]/χ² - 1 + 2)/width (the units' factors, with a Gaussian upstream gradient,
and the weights' column norms, of relative variance 2/width); the rows of the batch are
again not counted. Over `depth` layers the logarithm of the norm's factor then has the
standard deviation σ = ½·√(depth·that), and the measured factor ‖∂L/∂x‖ / ‖∂L/∂h_depth‖
must lie within exp(±z·σ) of χ^(depth/2).
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass


@functools.cache
def _moments() -> dict[str, float]:
    from reference.moments import selu_moments

    return {name: float(m.value) for name, m in selu_moments(96).items()}


@dataclass(frozen=True)
class StackBounds:
    mean: float  # |mean| at every layer
    variance: float  # |variance - 1| at every layer
    gradient_factor: float  # χ^(depth/2), the expected ‖∂L/∂x‖ / ‖∂L/∂h_depth‖
    gradient_spread: float  # the measured factor within gradient_factor · spread^±1

    def as_dict(self) -> dict:
        return asdict(self)


def stack_bounds(depth: int, width: int, batch: int, z: float) -> StackBounds:
    m = _moments()
    chi = m["E[selu'(Z)^2]"]
    per_layer = (3 * m["E[selu'(Z)^4]"] / chi**2 - 1 + 2) / width
    sigma = 0.5 * math.sqrt(depth * per_layer)
    return StackBounds(
        mean=z / math.sqrt(batch),
        variance=z * math.sqrt(m["E[selu(Z)^4]"] - 1) / math.sqrt(batch),
        gradient_factor=chi ** (depth / 2),
        gradient_spread=math.exp(z * sigma),
    )


def variance_standard_error(samples: int, kurtosis: float = 3.0) -> float:
    """Relative standard error of a sample variance of `samples` draws (kurtosis 3: normal;
    a truncated normal's is lower, so this is conservative for it)."""
    return math.sqrt((kurtosis - 1) / samples)
