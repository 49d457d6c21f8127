"""An independent check of an exhaustive sweep of torch/functional over a float32 range.

Shares nothing with the sweep but torch: no worker, no `reference`, no `conformance.measure`.
torch is called in this process; the exact value is estimated in numpy.longdouble (x87
extended, 64-bit significand) with λ and λα from the MPFR oracle (`mpfr_oracle.py`); the
error is |computed - estimate| / ulp, the ulp of the estimate's float32 binade computed
with frexp (2^-149 below the normal range). The estimate is within about 2^-40 ulp of
float32, so the maximum error agrees with the sweep's to 6 digits; the worst input is then
measured exactly with MPFR.

    python tests/independent_sweep.py [--quantity forward|gradient] START STOP

prints one JSON line: {"count", "max_ulp", "worst_input", "worst_output", "mpfr_ulp"}.
Inputs whose output or estimate is not a finite nonzero number (NaN, ±0, ±inf) are
compared by class and counted as "special" instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gmpy2
import mpfr_oracle

LD = np.longdouble
CHUNK = 1 << 22


def torch_selu(x: np.ndarray, quantity: str) -> np.ndarray:
    t = torch.from_numpy(x)
    if quantity == "forward":
        with torch.no_grad():
            return torch.nn.functional.selu(t).numpy()
    t.requires_grad_(True)
    y = torch.nn.functional.selu(t)
    y.backward(torch.ones_like(y))
    return t.grad.numpy()


def estimate(x: np.ndarray, quantity: str) -> np.ndarray:
    lam, lam_alpha, _ = mpfr_oracle.constants()
    lam, lam_alpha = LD(str(lam)), LD(str(lam_alpha))
    xl = x.astype(LD)
    neg = np.minimum(xl, LD(0))
    if quantity == "forward":
        return np.where(xl > 0, lam * xl, lam_alpha * np.expm1(neg))
    return np.where(xl > 0, lam, lam_alpha * np.exp(neg))


def ulp32(v: np.ndarray) -> np.ndarray:
    exponent = np.frexp(np.abs(v))[1].astype(np.int64) - 1  # 2^e <= |v| < 2^(e+1)
    return np.ldexp(LD(1), np.maximum(exponent, -126) - 23)


def check(start: int, stop: int, quantity: str) -> dict:
    assert np.finfo(LD).nmant >= 63, "needs the x87 extended longdouble"
    torch.set_num_threads(1)
    best = (-1.0, None, None)
    count = special = 0
    for a in range(start, stop, CHUNK):
        bits = np.arange(a, min(stop, a + CHUNK), dtype=np.uint64).astype(np.uint32)
        x = bits.view(np.float32)
        got = torch_selu(x.copy(), quantity)
        with np.errstate(all="ignore"):
            v = estimate(x, quantity)
            ordinary = np.isfinite(got) & (got != 0) & np.isfinite(v) & (v != 0)
            ordinary &= np.abs(v) < LD(2) ** 128  # beyond: rounds to inf
            err = np.abs((got[ordinary].astype(LD) - v[ordinary]) / ulp32(v[ordinary]))
        count += int(ordinary.sum())
        special += int((~ordinary).sum())
        if err.size:
            i = int(np.argmax(err))  # the first of the largest
            if float(err[i]) > best[0]:
                idx = np.flatnonzero(ordinary)[i]
                best = (float(err[i]), float(x[idx]), float(got[idx]))
    worst_ulp, worst_x, worst_out = best
    # The worst input, exactly: MPFR at 320 bits.
    exact = mpfr_oracle.exact(quantity, worst_x)
    with gmpy2.context(precision=320):
        e = int(gmpy2.floor(gmpy2.log2(abs(exact))))
        spacing = gmpy2.exp2(max(e, -126) - 23)
        mpfr_ulp = float(abs(gmpy2.mpfr(worst_out) - exact) / spacing)
    return {
        "count": count,
        "special": special,
        "max_ulp": worst_ulp,
        "worst_input": worst_x.hex(),
        "worst_output": worst_out.hex(),
        "mpfr_ulp": mpfr_ulp,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("start")
    parser.add_argument("stop")
    parser.add_argument("--quantity", choices=("forward", "gradient"), default="forward")
    args = parser.parse_args()
    print(json.dumps(check(int(args.start, 16), int(args.stop, 16), args.quantity)))


if __name__ == "__main__":
    main()
