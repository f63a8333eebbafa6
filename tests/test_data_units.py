"""Runtime units: spellings, exact conversion between units, seconds from log runtimes, and
durations written for people."""

from __future__ import annotations

import numpy as np
import pytest

from pitot_tf.data.units import (
    canonical_unit,
    convert,
    format_seconds,
    log_to_seconds,
    seconds_per,
    to_seconds,
)


def test_spellings() -> None:
    assert [canonical_unit(u) for u in ("ns", "us", "µs", "μs", " ms ", "s")] == [
        "ns", "us", "us", "us", "ms", "s"]
    assert canonical_unit("min") is None and canonical_unit("") is None
    with pytest.raises(ValueError, match="unknown runtime unit 'min'"):
        seconds_per("min")


def test_conversions() -> None:
    assert seconds_per("us") == 1e-6 and seconds_per("s") == 1.0
    assert convert(5.0, "ms", "us") == 5000.0 and convert(5000.0, "us", "ms") == 5.0
    values = np.array([5459.8, 2.9993416e7], dtype=np.float32)
    np.testing.assert_array_equal(convert(values, "us", "us"), values.astype(np.float64))
    np.testing.assert_allclose(to_seconds(values, "us"), [5.4598e-3, 29.993416], rtol=1e-7)
    np.testing.assert_allclose(log_to_seconds(np.log([5459.8]), "us"), [5.4598e-3])
    np.testing.assert_allclose(log_to_seconds(np.log([5.4598e6]), "ns"), [5.4598e-3])


@pytest.mark.parametrize(("seconds", "text"), [
    (29.993, "30 s"), (5.4598e-3, "5.46 ms"), (0.99971, "1 s"), (1.317e-3, "1.32 ms"),
    (8.5e-4, "0.85 ms"), (4.2e-5, "0.042 ms"), (0.0, "0 ms"), (125.0, "125 s"),
])
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text
