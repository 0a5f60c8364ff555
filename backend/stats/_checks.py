"""Input checks shared by the statistics modules: each raises ValueError with the argument's name."""

import math
import numbers


def check_count(value: int, name: str, minimum: int = 0) -> int:
    """Return `value` as an int, requiring an integer (not bool, not float) of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def check_open_unit(value: float, name: str) -> float:
    """Return `value` as a float, requiring 0 < value < 1 (a confidence level, alpha or power)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def check_finite(value: float, name: str) -> float:
    """Return `value` as a float, requiring a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)
