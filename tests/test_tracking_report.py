"""The terminal summary: one headline line, and groups far below target flagged with size."""

from __future__ import annotations

import pandas as pd

from pitot_tf.tracking.report import headline_from_metrics, low_coverage_lines


def groups(coverage: float, n: int) -> pd.DataFrame:
    return pd.DataFrame([
        {"objective": "if2", "grouping": "runtime", "bound": "plain", "alpha": 0.05,
         "group": "(all)", "n": 900, "coverage": 0.95},
        {"objective": "if2", "grouping": "runtime", "bound": "plain", "alpha": 0.05,
         "group": "wasm3", "n": n, "coverage": coverage},
        {"objective": "if2", "grouping": "runtime", "bound": "mondrian", "alpha": 0.05,
         "group": "wasm3", "n": n, "coverage": 0.94},
    ])


def test_a_group_far_below_target_is_flagged_with_its_size() -> None:
    (line,) = low_coverage_lines(groups(0.62, 37))
    assert line == ("LOW COVERAGE: if2 runtime=wasm3 (37 test rows): plain 0.62, mondrian 0.94 "
                    "vs target 0.95 at alpha=0.05")
    assert low_coverage_lines(groups(0.90, 37)) == [], "0.05 short is not far below"


def test_headline_reads_the_test_metrics() -> None:
    metrics = {"test_mf_mape": 0.2, "test_mf_coverage_0.05": 0.95, "test_mf_width_0.05": 0.5,
               "test_if2_mape": 0.3, "val_mf_mape": 9.0}
    assert headline_from_metrics(metrics) == (
        "test at alpha=0.05: if2 MAPE 0.300; mf MAPE 0.200, coverage 0.950, width 0.500")
