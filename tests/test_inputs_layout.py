"""Input sets and layout variants: what the gate feeds the implementations."""

import ml_dtypes
import mpfr_oracle as oracle
import numpy as np
import pytest

from conformance import inputs, layout, views

DTYPES = ["float16", "bfloat16", "float32", "float64"]
NP = {
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float32": np.float32,
    "float64": np.float64,
}


@pytest.mark.parametrize("dtype", DTYPES)
def test_landmarks_against_the_mpfr_oracle(dtype):
    marks = inputs.landmarks(dtype)
    t = NP[dtype]

    def selu(v):
        return oracle.rounded("forward", v, t)

    def grad(v):
        return oracle.rounded("gradient", v, t)

    assert np.isfinite(selu(marks["overflow_last_finite"]))
    assert np.isinf(selu(marks["overflow_first_infinite"]))
    saturated = selu(float("-inf"))
    assert selu(marks["saturation_first"]) == saturated
    assert selu(marks["saturation_last"]) != saturated
    assert grad(marks["gradient_last_nonzero"]) > 0
    assert grad(marks["gradient_first_zero"]) == 0
    info = oracle.finfo(t)
    assert marks["largest_finite"] == float(info.max)
    assert marks["smallest_subnormal"] == float(info.smallest_subnormal)


@pytest.mark.parametrize("dtype", DTYPES)
def test_special_cases_resolve_for_every_dtype(dtype):
    cases = inputs.special_cases(dtype)
    names = [c.name for c in cases]
    assert len(names) == len(set(names)) >= 20
    values = inputs.special_array(dtype).astype(np.float64)
    assert np.isnan(values).sum() == 2 and np.signbit(values[names.index("-NaN")])
    assert np.signbit(values[names.index("-0")]) and values[names.index("-0")] == 0


def test_sampled_sets_are_deterministic_and_cover_every_binade():
    a, b = inputs.sampled("float32"), inputs.sampled("float32")
    assert a.tobytes() == b.tobytes() and a.size == inputs.SAMPLE_SIZE
    binned = a[a.size // 2 :].view(np.uint32)
    exponents = (binned >> 23) & 0xFF
    counts = np.bincount(exponents, minlength=256)
    assert counts[255] == 0  # no inf/NaN in the per-binade half
    assert counts[:255].min() > 0.8 * counts[:255].mean()  # every binade, evenly
    assert (binned >> 31).mean() == pytest.approx(0.5, abs=0.01)  # both signs
    f64 = inputs.sampled("float64")
    assert f64.dtype == np.float64 and not np.array_equal(f64[:10], a[:10].astype(np.float64))


def test_layout_index_maps_are_right():
    base = np.arange(100, dtype=np.float32) - 50
    for variant in layout.variants(base, specials=24):
        seen = views.apply(variant.array, variant.view)
        assert np.array_equal(seen.ravel(), base[variant.index]), variant.name


def test_every_special_case_reaches_every_offset_of_every_rotation_length():
    specials = 24
    base = np.arange(100, dtype=np.float32)
    variants = layout.variants(base, specials=specials)
    for length in layout.ROTATION_LENGTHS:
        seen = np.zeros((specials, length), dtype=bool)
        for v in variants:
            if v.name.endswith(f" in length {length}"):
                for offset, i in enumerate(v.index):
                    if i < specials:
                        seen[i, offset] = True
        assert seen.all(), length


def test_layout_covers_sizes_0_to_70_large_strides_and_0d():
    names = [v.name for v in layout.variants(np.arange(100.0), specials=24)]
    for n in range(71):
        assert f"size {n}" in names
    assert f"size {layout.LARGE}" in names
    assert any(n.startswith("stride") for n in names)
    assert "transposed 8x9" in names and "0-d array" in names
