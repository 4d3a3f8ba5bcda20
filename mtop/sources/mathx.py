"""Small vectorised maths for the simulator: a normal CDF without scipy, and a counter-based hash.

The hash makes time-dependent randomness a pure function of ``(seed, index)``: the same hour of the
same seed always has the same spike, whichever order or range the simulator evaluates it in.

>>> round(float(norm_cdf(np.array([0.0]))[0]), 6)
0.5
>>> int(hash_u64(7, np.array([3]))[0]) == int(hash_u64(7, np.array([3]))[0])
True
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["hash_u64", "lognormal_cdf", "norm_cdf", "unit_float"]

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
# Chebyshev fit of erfc (Press et al., Numerical Recipes "erfcc"): fractional error below 1.2e-7 everywhere.
_ERFC = (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)  # fmt: skip


def norm_cdf(z: ArrayLike) -> NDArray[np.float64]:
    """Standard normal CDF, elementwise (absolute error below 1e-7; exact 0/1 at -/+inf).

    >>> [round(float(v), 4) for v in norm_cdf([-1.6448536, 0.0, 1.959964])]
    [0.05, 0.5, 0.975]
    """
    given = np.asarray(z, dtype=np.float64)
    zz = given.reshape(-1)  # 1-D, so every step below works in place even for a scalar
    x = np.abs(zz)
    x *= 1.0 / math.sqrt(2.0)
    t = 0.5 * x
    t += 1.0
    np.reciprocal(t, out=t)
    # Horner's rule in place: this runs over millions of elements per query.
    poly = np.full_like(t, _ERFC[-1])
    for c in _ERFC[-2::-1]:
        poly *= t
        poly += c
    x *= x
    poly -= x
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        np.exp(poly, out=poly)
    poly *= t
    poly *= 0.5  # now 0.5 * erfc(|z| / sqrt 2), the tail probability
    poly[np.isinf(zz)] = 0.0
    return np.where(zz >= 0, 1.0 - poly, poly).reshape(given.shape)


def lognormal_cdf(x: ArrayLike, median: ArrayLike, sigma: float) -> NDArray[np.float64]:
    """P(X <= x) for a lognormal with this median and log-space ``sigma`` (broadcasting).

    >>> round(float(lognormal_cdf(2.0, 2.0, 0.5)), 6)
    0.5
    """
    with np.errstate(divide="ignore"):
        z = (np.log(np.asarray(x, dtype=np.float64)) - np.log(np.asarray(median, dtype=np.float64))) / sigma
    return norm_cdf(z)


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    # splitmix64's finaliser: every input bit affects every output bit.
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def hash_u64(seed: int, values: ArrayLike, salt: int = 0) -> NDArray[np.uint64]:
    """A 64-bit hash of each integer in ``values`` under ``seed`` (and an optional ``salt``).

    >>> hash_u64(1, [5, 6]).dtype.name, bool(hash_u64(1, [5])[0] != hash_u64(2, [5])[0])
    ('uint64', True)
    """
    v = np.asarray(values, dtype=np.int64).astype(np.uint64)
    key = np.uint64((seed * 0x2545F4914F6CDD1D + salt * 0x632BE59BD9B4E019 + 1) & _MASK64)
    return _mix(_mix(v * _GOLDEN + key) ^ key)


def unit_float(h: NDArray[np.uint64]) -> NDArray[np.float64]:
    """Hashes mapped to floats in [0, 1) (53 random bits each).

    >>> bool(0.0 <= float(unit_float(hash_u64(3, [1]))[0]) < 1.0)
    True
    """
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
