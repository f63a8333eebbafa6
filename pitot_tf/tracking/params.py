"""Entry-point parameters as MLflow passes them (strings) turned into typed values.

MLflow projects substitute every parameter into a shell command as text, and an unset
optional parameter arrives as ``""``; these helpers give the one meaning each text has.
"""

from __future__ import annotations

import re

from pitot_tf.errors import ConfigError

_NEXT_OVERRIDE = re.compile(r"[\s,]+(?=[A-Za-z_][\w.]*=)")


def split_overrides(text: str | None) -> list[str]:
    """``"model.mf_dim=64 training.steps=100"`` or ``"a=1,b=[2, 3]"`` → ``["a=1", "b=[2, 3]"]``.

    Items are separated by spaces or commas that precede the next ``key=``, so list values
    may contain commas and spaces.
    """
    text = (text or "").strip().strip(",")
    if not text:
        return []
    return [item.strip() for item in _NEXT_OVERRIDE.split(text) if item.strip()]


def optional(text: str | None) -> str | None:
    """``""`` (an unset MLflow parameter) → None; other text unchanged."""
    return text if text and text.strip() else None


def integer(text: str | int | float, name: str) -> int:
    """``"3"`` or ``"3.0"`` (MLflow ``float`` parameters) → 3; anything else is a ConfigError."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"parameter {name} must be an integer, got '{text}'") from None
    if not value.is_integer():
        raise ConfigError(f"parameter {name} must be an integer, got '{text}'")
    return int(value)


def optional_steps(text: str | int | float | None) -> int | None:
    """Training steps: ``preset``, empty or 0 mean "the preset's ``training.steps``"."""
    if text is None or str(text).strip() in ("", "preset"):
        return None
    steps = integer(text, "steps")
    if steps < 0:
        raise ConfigError(f"parameter steps must be >= 0, got {steps}")
    return steps or None


def float_list(text: str, name: str) -> list[float]:
    """``"0.1,0.5"`` or ``"0.1 0.5"`` → ``[0.1, 0.5]``."""
    items = [t for t in re.split(r"[\s,]+", text.strip()) if t]
    try:
        return [float(t) for t in items]
    except ValueError:
        raise ConfigError(f"parameter {name} must be numbers separated by commas, got '{text}'") \
            from None


def real(text: str | float, name: str) -> float:
    """``"0.5"`` → 0.5; anything else is a ConfigError naming the parameter."""
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"parameter {name} must be a number, got '{text}'") from None


def words(text: str | None) -> list[str]:
    """``"runtime,uarch"`` or ``"runtime uarch"`` → ``["runtime", "uarch"]``."""
    return [t for t in re.split(r"[\s,]+", (text or "").strip()) if t]
