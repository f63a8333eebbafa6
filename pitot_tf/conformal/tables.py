"""The tidy tables of a conformal evaluation (:mod:`pitot_tf.conformal.evaluate`): per head,
and per group of rows with the plain (pooled) and the Mondrian (per group) bound."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from pitot_tf.conformal import metrics
from pitot_tf.conformal.calibration import ConformalUpperBound, supported_alphas

FloatArray = npt.NDArray[np.float64]
#: The group of the groups table that aggregates all test rows.
ALL_GROUPS = "(all)"


@dataclass(frozen=True)
class ObjectivePredictions:
    """Row indices, log runtimes and ``(n, heads)`` log predictions of one objective."""

    objective: str
    val_rows: npt.NDArray[np.int64]
    val_true: FloatArray
    val_pred: FloatArray
    test_rows: npt.NDArray[np.int64]
    test_true: FloatArray
    test_pred: FloatArray


def head_table(
    name: str, part: str, bound: ConformalUpperBound, log_true: FloatArray, log_pred: FloatArray
) -> pd.DataFrame:
    """One row per α × head: the head's own bound, and whether the bound chooses it."""
    records = []
    for i, alpha in enumerate(bound.alphas):
        for head in range(bound.n_heads_):
            margin = float(bound.margins_[i, head])
            log_bound = log_pred[:, head] + margin
            records.append({
                "objective": name, "split": part, "alpha": alpha, "head": head,
                "chosen": head == int(bound.chosen_head_[i]), "margin": margin,
                "coverage": metrics.coverage(log_true, log_bound),
                "width": metrics.bound_width(log_true, log_bound),
                "overprovision": metrics.overprovision(log_true, log_bound),
                "mape": metrics.mape(log_true, log_pred[:, head]),
                "mape_textbook": metrics.mape_textbook(log_true, log_pred[:, head]),
                "n_calibration": bound.n_calibration_, "n": len(log_true),
            })
    return pd.DataFrame.from_records(records)


def group_table(
    grouping: str, g_val: npt.NDArray[np.str_], g_test: npt.NDArray[np.str_],
    pred: ObjectivePredictions, plain: ConformalUpperBound,
) -> pd.DataFrame:
    """Per-group test coverage of the plain and the Mondrian bound at every α, for the group
    labels ``g_val`` and ``g_test`` of the validation and test rows."""
    frames = []
    for alpha in plain.alphas:
        margin = np.full(len(g_test), float(plain.margin(alpha)))
        log_bound = plain.upper_bound(pred.test_pred, alpha)
        fallback = np.ones(len(g_test), dtype=bool)
        frames.append(per_group("plain", alpha, g_val, g_test, pred, log_bound, margin, fallback))
        log_bound, margin, fallback = mondrian_bound(alpha, g_val, g_test, pred, plain)
        frames.append(per_group("mondrian", alpha, g_val, g_test, pred, log_bound, margin,
                                 fallback))
    table = pd.concat(frames, ignore_index=True)
    table.insert(0, "grouping", grouping)
    table.insert(0, "objective", pred.objective)
    return table


def mondrian_bound(
    alpha: float, g_val: npt.NDArray[np.str_], g_test: npt.NDArray[np.str_],
    pred: ObjectivePredictions, plain: ConformalUpperBound,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Log bound, margin and fallback flag per test row: a margin per group calibrated at
    ``alpha`` where the group has enough validation rows, else the plain pooled margin."""
    labels, counts = np.unique(g_val, return_counts=True)
    big = [str(g) for g, n in zip(labels, counts, strict=True) if supported_alphas([alpha], n)]
    log_bound = plain.upper_bound(pred.test_pred, alpha)
    margin = np.full(len(g_test), float(plain.margin(alpha)))
    own = np.isin(g_test, big)
    if own.any():
        cal = np.isin(g_val, big)
        mondrian = ConformalUpperBound([alpha], mondrian=True)
        mondrian.fit(pred.val_true[cal], pred.val_pred[cal], g_val[cal])
        log_bound[own] = mondrian.upper_bound(pred.test_pred[own], alpha, g_test[own])
        margin[own] = mondrian.margin(alpha, g_test[own])
    return log_bound, margin, ~own


def per_group(
    bound: str, alpha: float, g_val: npt.NDArray[np.str_], g_test: npt.NDArray[np.str_],
    pred: ObjectivePredictions, log_bound: FloatArray, margin: FloatArray,
    fallback: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    """One row per group of the test rows (and one for all of them): calibration and test
    sizes, mean margin, whether the group kept the pooled margin, coverage, width and MAPE."""
    records = []
    names = [*sorted(set(g_test.tolist())), ALL_GROUPS]
    for group in names:
        rows = np.ones(len(g_test), bool) if group == ALL_GROUPS else g_test == group
        n_cal = len(g_val) if group == ALL_GROUPS else int(np.sum(g_val == group))
        records.append({
            "bound": bound, "alpha": alpha, "group": group, "n_calibration": n_cal,
            "n": int(rows.sum()), "margin": float(np.mean(margin[rows])),
            "pooled_fallback": bool(np.all(fallback[rows])),
            "coverage": metrics.coverage(pred.test_true[rows], log_bound[rows]),
            "width": metrics.bound_width(pred.test_true[rows], log_bound[rows]),
            "mape": metrics.mape(pred.test_true[rows], pred.test_pred[rows, 0]),
        })
    return pd.DataFrame.from_records(records)


def empty_groups() -> pd.DataFrame:
    """The groups table of an evaluation without groups: its columns, no rows."""
    columns = ["objective", "grouping", "bound", "alpha", "group", "n_calibration", "n", "margin",
               "pooled_fallback", "coverage", "width", "mape"]
    return pd.DataFrame(columns=columns)
