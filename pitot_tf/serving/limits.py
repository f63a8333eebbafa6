"""Every bound a served request is held to, in one place, with safe defaults.

A served model sits on a scheduler's hot path and on a network, so nothing in a request may
make it allocate without bound: each input is measured against these limits before anything is
built for it (OWASP's "bound every input before allocating for it"). The defaults admit any
request the model is meant for (100k rows of workload, platform and a few co-runners is about
6 MB of JSON) and refuse what no scheduler sends. docs/reliability.md has the table.

Each limit is read from ``PITOT_SERVE_<FIELD>`` (e.g. ``PITOT_SERVE_MAX_ROWS=20000``) when the
model loads, in every worker, so one setting applies under ``pitot-tf serve`` and
``mlflow models serve`` alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from pitot_tf.errors import PredictionError

ENVIRONMENT_PREFIX = "PITOT_SERVE_"


@dataclass(frozen=True)
class Limits:
    """The bounds of one request (all counts are per request unless named per row)."""

    #: request body, bytes (413 above it; MLflow's own container allows 5 MB)
    max_body_bytes: int = 8 * 2**20
    #: rows in one request
    max_rows: int = 100_000
    #: co-runners of one row; the model's own co-runner width if that is larger
    max_co_runners: int = 16
    #: characters of one workload, platform or co-runner name
    max_name_chars: int = 256
    #: characters of any one text cell (a ``;``-separated list, an ``opcode_counts`` string)
    max_cell_chars: int = 65_536
    #: entries in one row's ``opcode_counts``
    max_opcode_entries: int = 1_024
    #: largest opcode count (float64 holds whole numbers exactly up to 2**53 ≈ 9e15)
    max_opcode_count: float = 1e15
    #: numbers in one row's ``workload_features`` or ``platform_features``
    max_features: int = 4_096
    #: largest |feature| (encoded features are log counts or standardised values, |x| < 100)
    max_feature_magnitude: float = 1e6
    #: nesting of JSON arrays and objects (a request needs 5)
    max_json_depth: int = 32
    #: requests one worker handles at once (503 above it)
    max_concurrent_requests: int = 8

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not value > 0:
                raise PredictionError(f"serving limit {field.name} must be > 0, got {value!r}")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, each replaced by ``PITOT_SERVE_<FIELD>`` where that is set;
        PredictionError naming the variable for a value that is not a positive number."""
        environ = os.environ if environ is None else environ
        values: dict[str, int | float] = {}
        for field in fields(cls):
            name = ENVIRONMENT_PREFIX + field.name.upper()
            text = environ.get(name, "").strip()
            if not text:
                continue
            kind = int if field.type in ("int", int) else float
            try:
                values[field.name] = kind(text)
            except ValueError:
                what = "whole number" if kind is int else "number"
                raise PredictionError(f"{name} must be a {what}, got {text[:40]!r}") from None
        return cls(**values)  # type: ignore[arg-type]

    def co_runners_for(self, width: int) -> int:
        """Co-runners a row may name for a model trained with ``width`` of them."""
        return max(self.max_co_runners, width)
