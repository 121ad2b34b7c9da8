"""Confidence intervals of success rates."""

from __future__ import annotations

import math

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
