"""Raw opcode counts of a workload → its encoded workload feature vector, as the dataset did it.

A served model may be asked about a new workload by its raw WebAssembly opcode counts instead
of its encoded features. Each feature is ``log(1 + count)`` of one opcode, in the dataset's
``f_workload`` order, and opcodes constant over the training workloads were dropped:

- a dataset made by ``pitot-tf data preprocess`` has ``encoders.json``; its workload encoder
  says which ``count:`` columns were kept (the features) and which were dropped as constant;
- the published dataset has none: its features are the reference's ``preprocess/opcodes.py``
  (``log(counts + 1)``), named ``xNN`` (the opcode byte in upper-case hex), every opcode not
  among them having been constant.

:func:`count_encoding` records which applies when a model is logged (a
:class:`CountEncoding`, saved in the pyfunc's calibration JSON), so a served model needs no
dataset. A dataset whose workload features are not all such counts has none.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pitot_tf.data.dataset import Dataset
from pitot_tf.data.encoders import AxisEncoder, load_encoders
from pitot_tf.data.preprocess import ENCODERS_FILE

__all__ = ["OPCODE_LABEL", "CountEncoding", "CountError", "count_encoding"]

#: The published data's opcode labels: ``x`` and the opcode byte in upper-case hex.
OPCODE_LABEL = re.compile(r"x[0-9A-F]{2}")
ENCODERS_SOURCE = "encoders.json"
PUBLISHED_SOURCE = "opcode labels"


class CountError(ValueError):
    """A label or count that cannot be encoded: one line, without the request row."""


@dataclass(frozen=True)
class CountEncoding:
    """How raw counts become a model's workload features: ``log(1 + count)`` per feature, in
    ``features`` order; missing labels count 0. Labels that are known but were dropped as
    constant (``ignored``; with ``source`` "opcode labels", any ``xNN`` label) are ignored."""

    features: tuple[str, ...]
    source: str
    ignored: tuple[str, ...] = ()

    def is_ignored(self, label: str) -> bool:
        """A label the dataset knew but dropped (constant over its workloads)."""
        if self.source == PUBLISHED_SOURCE:
            return OPCODE_LABEL.fullmatch(label) is not None
        return label in self.ignored

    def encode(self, counts: Mapping[Any, Any]) -> np.ndarray:
        """The float32 feature vector of one workload's ``{label: count}``; CountError names
        the first label or count at fault."""
        index = {name: j for j, name in enumerate(self.features)}
        raw = np.zeros(len(self.features), dtype=np.float64)
        for label, value in counts.items():
            if not isinstance(label, str):
                raise CountError(f"label {label!r} is not a string")
            count = _count(label, value)
            if label in index:
                raw[index[label]] = count
            elif not self.is_ignored(label):
                raise CountError(self._unknown(label))
        return np.log1p(raw).astype(np.float32)

    def _unknown(self, label: str) -> str:
        close = difflib.get_close_matches(label, list(self.features), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        form = " (labels are 'x' and the opcode byte in upper-case hex, e.g. x20)" if (
            self.source == PUBLISHED_SOURCE) else ""
        return (f"unknown opcode label {label!r}: not one of the model's "
                f"{len(self.features)} features{form}{hint}")

    def to_dict(self) -> dict[str, Any]:
        return {"encoding": "log1p", "source": self.source, "features": list(self.features),
                "ignored": list(self.ignored)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CountEncoding:
        """Inverse of :meth:`to_dict`; another encoding raises ``ValueError``."""
        if data.get("encoding") != "log1p":
            raise ValueError(f"unknown count encoding {data.get('encoding')!r}")
        return cls(tuple(map(str, data["features"])), str(data["source"]),
                   tuple(map(str, data.get("ignored", ()))))


def _count(label: str, value: Any) -> float:
    """A count: a whole number >= 0 (an integral float such as 3.0 is accepted)."""
    number = None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)):
        number = float(value)
    if number is None or not math.isfinite(number) or number < 0 or number != round(number):
        raise CountError(f"count of {label!r} must be a whole number >= 0, got {value!r}")
    return number


def from_encoder(encoder: AxisEncoder) -> CountEncoding | None:
    """The encoding of a fitted workload encoder whose kept features are all ``count:``
    columns; None if any feature is encoded otherwise."""
    counts = [c.column for c in encoder.columns if c.kind == "count"]
    if not set(encoder.features) <= set(counts):
        return None
    dropped = tuple(name for name in counts if name not in encoder.features)
    return CountEncoding(tuple(encoder.features), ENCODERS_SOURCE, dropped)


def is_passthrough(encoder: AxisEncoder) -> bool:
    """Whether the encoder only passes already-encoded features through (``num:`` columns,
    as ``preprocess`` saves for a dataset appended to that had no ``encoders.json``)."""
    return all(c.kind == "num" for c in encoder.columns)


def count_encoding(dataset: Dataset) -> CountEncoding | None:
    """How raw opcode counts become ``dataset``'s workload features: its ``encoders.json``
    when it has one, else (or when that only passes features through) the published layout
    when every feature is named ``xNN``."""
    saved = dataset.source / ENCODERS_FILE if dataset.source is not None else None
    if saved is not None and saved.is_file():
        encoder = load_encoders(saved)["workload"]
        if not is_passthrough(encoder):
            return from_encoder(encoder)
    names = tuple(str(n) for n in dataset.workloads.feature_names)
    if names and all(OPCODE_LABEL.fullmatch(n) for n in names):
        return CountEncoding(names, PUBLISHED_SOURCE)
    return None
