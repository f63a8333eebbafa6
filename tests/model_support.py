"""Test helper: one set of "small model" overrides for presets of any model kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pitot_tf.config import Config, applicable
from pitot_tf.presets import resolve


def resolve_small(preset: str, small: Mapping[str, Any],
                  exact: Mapping[str, Any] | None = None) -> Config:
    """``resolve(preset, {**small, **exact})``, less the ``model.*`` keys of ``small`` that the
    model's kind never reads (which validation would reject): for tests that mean "a small
    model of whatever kind". Every key of ``exact`` must apply, as in a run."""
    exact = dict(exact or {})
    kind = resolve(preset, exact).model.kind
    return resolve(preset, {**applicable(small, kind), **exact})
