"""Runtime units: which unit a dataset's runtimes ``t`` are in, and conversion to seconds.

Why: the published Pitot data stores mean wall time in **microseconds** and says so nowhere
(its largest value, 2.9993e7, is the 30 s timeout; polybench/small/gemm on iwasm-a:hc-11 reads
5,460, i.e. 5.5 ms). A dataset therefore carries its unit: ``data.npz`` may hold a 0-d string
``unit`` (``ns``, ``us``, ``ms`` or ``s``), written by ``data preprocess`` and ``data synth``;
a file without one (the published data) is in microseconds. Models learn the natural log of
the runtime in the dataset's unit; everything shown to people is converted to seconds here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_UNIT", "UNIT_KEY", "UNITS", "canonical_unit", "convert", "format_seconds",
    "log_to_seconds", "seconds_per", "to_seconds",
]

#: The ``data.npz`` key that names the unit of ``t`` (in every objective file of the dataset).
UNIT_KEY = "unit"
#: The unit of a dataset that records none: the published data is in microseconds.
DEFAULT_UNIT = "us"
#: Power of ten of one unit in seconds.
_EXPONENT = {"ns": -9, "us": -6, "ms": -3, "s": 0}
#: Accepted spellings: the canonical names plus the micro sign and the Greek mu.
UNITS = (*_EXPONENT, "µs", "μs")
_ALIASES = {"µs": "us", "μs": "us"}


def canonical_unit(unit: str) -> str | None:
    """``ns``, ``us``, ``ms`` or ``s`` for an accepted spelling of ``unit``, else None."""
    name = _ALIASES.get(unit.strip(), unit.strip())
    return name if name in _EXPONENT else None


def _exponent(unit: str) -> int:
    name = canonical_unit(unit)
    if name is None:
        raise ValueError(f"unknown runtime unit '{unit}' (use {', '.join(_EXPONENT)})")
    return _EXPONENT[name]


def seconds_per(unit: str) -> float:
    """How many seconds one ``unit`` is (``1e-6`` for ``us``)."""
    return 10.0 ** _exponent(unit)


def convert(runtime: npt.ArrayLike, unit: str, to: str) -> np.ndarray:
    """``runtime`` in ``unit`` expressed in ``to`` (float64; exactly unchanged if the same)."""
    values = np.asarray(runtime, dtype=np.float64)
    shift = _exponent(unit) - _exponent(to)
    return values if shift == 0 else values * 10.0**shift


def to_seconds(runtime: npt.ArrayLike, unit: str) -> np.ndarray:
    """Runtimes in ``unit`` → seconds."""
    return convert(runtime, unit, "s")


def log_to_seconds(log_runtime: npt.ArrayLike, unit: str) -> np.ndarray:
    """Natural-log runtimes in ``unit`` (what the models predict) → seconds."""
    return np.exp(np.asarray(log_runtime, dtype=np.float64)) * seconds_per(unit)


def format_seconds(seconds: float) -> str:
    """A duration for people, in seconds or milliseconds only (the house rule: no µs or ns
    that a reader could mistake for the stored unit): ``5.46 ms``, ``30 s``, ``0.85 ms``."""
    rounded = float(f"{seconds:.3g}")  # so that 0.9997 s reads "1 s", not "1e+03 ms"
    if abs(rounded) >= 1.0:
        return f"{rounded:.3g} s"
    return f"{rounded / 1e-3:.3g} ms"
