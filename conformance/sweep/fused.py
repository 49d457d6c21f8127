"""A sweep chunk's measurement in compiled loops (numba): the errors, the histogram, the
worst inputs, and the few outputs that need the gate's whole comparison.

Each output is read beside the reference's value and residual and settled on the spot
when it is one of the two common cases of `measure`'s definitions:

- input, output and expected value are all finite and nonzero (x ≠ 0, where the derivative
  has two right values): `measure.ulp_error`'s formula, the same float64 operations in
  the same order, and the column of that error (`measure.error_columns`); where the bits
  are equal that is the reference's |residual| (twice that where the exact value lies just
  below a power of two and was rounded up to it), column 0;
- otherwise its bits equal the correctly rounded value's, or both are NaN: its error is
  the reference's |residual| (0 at NaN and infinite values), column 0.

Every other output (a NaN, an infinity or a zero where none is due or the reverse, any
output at x = ±0 or ±inf that differs from the expected one) is left to the caller as
"rare", for `measure.compare_one_sided`, which classifies special-value violations.
`measure` computes every error and column (`settle`, a vectorised pass) and counts them
into the histogram; `worst` finds the TOP worst settled inputs (ties to the
lower index).
"""

from __future__ import annotations

import numba
import numpy as np

from reference.kernels import FRACTION, INF_BITS, SIGN, FormatCode, as_bits, finite_nonzero, per_ulp

from ..measure import LAST_FINITE
from .summary import TOP

_DBL_MAX = np.finfo(np.float64).max
#: The column of an output left to the caller.
RARE = np.uint8(255)
#: Copies of the histogram that consecutive outputs count in (a power of two).
LANES = 4
#: Outputs per block of the search for the worst ones.
BLOCK = 1024


@numba.njit(cache=True, nogil=True)
def column(error: float) -> int:
    """`measure.error_columns` of one error >= 0, finite: 0 for <= 0.5 ulp, else
    ceil(log2(2·error)) up to LAST_FINITE, read off the float64 encoding (error = 2^E·(1+f):
    E + 1 if f = 0, else E + 2), without a branch."""
    bits = as_bits(error)
    exponent = np.int64(bits >> np.uint64(52)) - 1023
    found = exponent + 1 + np.int64((bits & FRACTION) != 0)
    return min(max(found, 0), LAST_FINITE)


@numba.njit(cache=True, nogil=True)
def settle(x, e, r, g, code: FormatCode, errors, columns) -> None:
    """errors[i] and columns[i] (uint8) of each output g[i] against the reference's value
    e[i] with residual r[i] at input x[i] (x, e, g: one float dtype), by the rules above;
    -1 and RARE where the output is left to the caller. No branch: the loop is vectorised."""
    for i in range(x.size):
        gv, ev, xv, rr = np.float64(g[i]), np.float64(e[i]), np.float64(x[i]), r[i]
        g_mag, e_bits = as_bits(gv) & ~SIGN, as_bits(ev)
        e_mag = e_bits & ~SIGN
        ordinary = finite_nonzero(xv) & finite_nonzero(gv) & finite_nonzero(ev)
        equal = (as_bits(gv) == e_bits) | ((g_mag > INF_BITS) & (e_mag > INF_BITS))
        # `measure.ulp_error` (where the bits are equal it is |residual| as it stands)
        error = abs((gv - ev) * per_ulp(ev, code) - rr)
        exact = abs(rr)
        exact = 0.0 if exact != exact else exact  # NaN and infinite values: exact
        error = error if ordinary else exact
        # The exact value just below a power of two, rounded up to it, lies in the binade
        # below, whose ulp is half: the error in that binade's ulps is twice as many.
        lower = ((e_bits & FRACTION) == 0) & (abs(ev) >= code.two_smallest_normal) & (rr * ev < 0)
        error = min(error * 2 if lower else error, _DBL_MAX)
        settled = ordinary | equal
        errors[i] = error if settled else -1.0
        columns[i] = np.uint8(column(error)) if settled else RARE


@numba.njit(cache=True, nogil=True)
def measure(bits, shift, x, e, r, g, code: FormatCode, errors, columns, counts, maxima) -> None:
    """`settle` every output, count each settled one in counts[lane, bits[i] >> shift,
    column] (LANES lanes, to be summed: consecutive outputs count in different lanes, so
    that no increment waits for the one before), and note the largest error of each block
    of BLOCK in maxima[block], as int64 (errors >= 0 order as their encodings; -1, a rare
    output, below them all: an integer reduction, vectorised)."""
    settle(x, e, r, g, code, errors, columns)
    for i in range(columns.size):
        c = columns[i]
        if c != RARE:
            counts[i & (LANES - 1), bits[i] >> shift, c] += 1
    encoded = errors.view(np.int64)
    for block in range(maxima.size):
        largest = np.int64(-(1 << 62))
        for i in range(block * BLOCK, min((block + 1) * BLOCK, encoded.size)):
            largest = max(largest, encoded[i])
        maxima[block] = largest


def worst(errors: np.ndarray, maxima: np.ndarray) -> np.ndarray:
    """The indices of the TOP largest errors >= 0, largest first, ties to the lower index,
    from the errors and their blocks' maxima (`measure`).

    Only blocks that can hold one are read: every one of them lies in a block whose
    maximum is at least the TOP-th largest block maximum t (TOP blocks above t hold TOP
    errors above it); of the blocks whose maximum is t itself, the first TOP in index order
    hold TOP errors of t with lower indices than any in a later one."""
    if maxima.size > TOP:
        t = np.partition(maxima, maxima.size - TOP)[maxima.size - TOP]
        blocks = np.concatenate([np.flatnonzero(maxima > t), np.flatnonzero(maxima == t)[:TOP]])
        blocks.sort()
    else:
        blocks = np.arange(maxima.size)
    top_err, top_idx = np.empty(TOP), np.empty(TOP, dtype=np.int64)
    n = _select(errors, blocks, top_err, top_idx)
    order = np.lexsort((top_idx[:n], -top_err[:n]))
    return top_idx[:n][order]


@numba.njit(cache=True, nogil=True)
def _select(errors, blocks, top_err, top_idx) -> int:
    """The TOP largest errors >= 0 of `blocks` (ascending) into top_err, top_idx (unsorted);
    a later index replaces an entry only with a larger error. Returns the entries used."""
    n = 0
    w = 0  # the entry a better candidate replaces: the smallest error, the highest index
    for b in blocks:
        for i in range(b * BLOCK, min((b + 1) * BLOCK, errors.size)):
            error = errors[i]
            if error < 0 or (n == TOP and error <= top_err[w]):
                continue
            if n < TOP:
                top_err[n], top_idx[n] = error, i
                n += 1
            else:
                top_err[w], top_idx[w] = error, i
            if n == TOP:
                w = 0
                for k in range(1, TOP):
                    if top_err[k] < top_err[w] or (
                        top_err[k] == top_err[w] and top_idx[k] > top_idx[w]
                    ):
                        w = k
    return n
