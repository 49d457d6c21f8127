"""The self-normalisation stack in PyTorch: torch.nn.Linear layers, torch.nn.SELU, autograd.

PyTorch has no lecun_normal; its documentation of torch.nn.SELU says to initialise with
torch.nn.init.kaiming_normal_(…, nonlinearity='linear') (gain 1, so variance 1/fan_in with
mode='fan_in', the default), not with nonlinearity='selu', whose gain 3/4 is meant for
other initialisers. That is the call used here.
"""

from __future__ import annotations

import numpy as np
import torch

LECUN_NORMAL = "torch.nn.init.kaiming_normal_(w, mode='fan_in', nonlinearity='linear')"
ACTIVATIONS = {"selu": torch.nn.SELU, "relu": torch.nn.ReLU}


def version() -> str:
    return torch.__version__


def lecun_normal(fan_in: int, fan_out: int, seed: int) -> np.ndarray:
    """A (fan_in, fan_out) sample of the initialiser (torch stores Linear weights as
    (out, in), so the sample is transposed to the x @ W orientation)."""
    torch.manual_seed(seed)
    weight = torch.empty(fan_out, fan_in)
    torch.nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="linear")
    return weight.T.numpy().copy()


def stack(x: np.ndarray, g: np.ndarray, depth: int, activation: str, seed: int) -> dict:
    """Per-layer mean and variance of the activations of torch.nn.Sequential-style
    Linear → activation layers (zero bias), and the norm of the gradient of sum(h_depth · g)
    with respect to the input and to every layer's output."""
    torch.manual_seed(seed)
    width = x.shape[1]
    layers = []
    for _ in range(depth):
        linear = torch.nn.Linear(width, width)
        torch.nn.init.kaiming_normal_(linear.weight, mode="fan_in", nonlinearity="linear")
        torch.nn.init.zeros_(linear.bias)
        layers.append(torch.nn.Sequential(linear, ACTIVATIONS[activation]()))
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
    torch.manual_seed(seed)
    layer = torch.nn.AlphaDropout(rate)
    layer.train()
    with torch.no_grad():
        return layer(torch.from_numpy(x)).numpy()
