"""Confidence intervals of success rates, and of the difference of two rates on the same tasks."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054
"""The standard normal's 97.5% quantile: a two-sided 95% interval."""


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (low, high) of a binomial rate from ``successes`` of ``trials``:

        centre = (p + z^2 / 2n) / (1 + z^2 / n),  half = z sqrt(p (1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n)

    with p = successes / n. Unlike p +- z sqrt(p (1 - p) / n) it stays inside [0, 1] and is not empty
    at 0 or n successes (0 of 50 gives [0, 0.071])."""
    if not (isinstance(trials, int) and trials >= 1):
        raise ValueError(f"trials must be a positive int, got {trials!r}")
    if not (isinstance(successes, int) and 0 <= successes <= trials):
        raise ValueError(f"successes must be an int in [0, trials={trials}], got {successes!r}")
    n, p = trials, successes / trials
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)     # exact at the ends, not 1e-17 off
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def paired_difference_interval(first, second, z: float = Z95) -> tuple[float, float, float]:
    """The difference of two success rates measured on the same tasks, ``mean(first) - mean(second)``,
    and its 95% interval (low, high) by Newcombe's hybrid score method for paired data (Newcombe 1998,
    method 10); first, second [n] bool: each task's outcome under the two runs.

    With a = both solved, b = first only, c = second only, d = neither, p1 = (a + b) / n and
    p2 = (a + c) / n with Wilson intervals (l1, u1) and (l2, u2), and the correlation of the outcomes

        phi = C / sqrt((a + b)(c + d)(a + c)(b + d)),   C = ad - bc - n/2 if ad - bc > n/2, ad - bc if it
                                                        is negative, else 0 (0 where a margin is empty),

    the interval is (p1 - p2) - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2) to
    (p1 - p2) + sqrt((u1 - p1)^2 - 2 phi (u1 - p1)(p2 - l2) + (p2 - l2)^2). Two runs that solve
    mostly the same tasks (phi near 1) get a narrower interval than their two Wilson intervals
    suggest; for large n it approaches the paired Wald interval."""
    first, second = (_outcomes(name, x) for name, x in (("first", first), ("second", second)))
    if first.shape != second.shape:
        raise ValueError(f"first and second must hold the same tasks, got {first.size} and {second.size} outcomes")
    n = first.size
    a, b = int(np.sum(first & second)), int(np.sum(first & ~second))
    c, d = int(np.sum(~first & second)), int(np.sum(~first & ~second))
    p1, p2 = (a + b) / n, (a + c) / n
    (l1, u1), (l2, u2) = wilson_interval(a + b, n, z), wilson_interval(a + c, n, z)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    excess = a * d - b * c
    correction = excess - n / 2 if excess > n / 2 else min(excess, 0)
    phi = correction / math.sqrt(margins) if margins > 0 else 0.0
    low = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return p1 - p2, p1 - p2 - low, p1 - p2 + high


def _outcomes(name: str, values) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0 or array.dtype != bool:
        raise ValueError(f"{name} must be a non-empty 1-d array of bool outcomes, got {array.dtype} of shape "
                         f"{array.shape}")
    return array
