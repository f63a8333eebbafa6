"""Plain-text summaries of an evaluation, as the CLI and the entry points print them."""

from __future__ import annotations

import pandas as pd

from pitot_tf.conformal.evaluate import ALL_GROUPS, SUMMARY_ALPHAS, Evaluation


def summary_text(evaluation: Evaluation) -> str:
    """The test summary at α = 0.1, 0.05, 0.01 and the worst group's coverage per grouping
    for the plain and the Mondrian bound; then any notes."""
    table = evaluation.summary(SUMMARY_ALPHAS)
    lines = ["test split (bounds calibrated on the validation split):",
             table.to_string(index=False, float_format=lambda v: f"{v:.4f}")]
    worst = worst_group_coverage(evaluation.groups)
    if not worst.empty:
        lines += ["worst-group test coverage, plain vs Mondrian bound:",
                  worst.to_string(index=False, float_format=lambda v: f"{v:.4f}")]
    lines += [f"note: {note}" for note in evaluation.notes]
    return "\n".join(lines)


def worst_group_coverage(groups: pd.DataFrame) -> pd.DataFrame:
    """Lowest per-group coverage at the summary α, one row per objective × grouping × α, with
    columns ``plain`` and ``mondrian``."""
    if groups.empty:
        return pd.DataFrame()
    rows = groups[(groups["group"] != ALL_GROUPS) & groups["alpha"].round(6).isin(SUMMARY_ALPHAS)]
    worst = rows.groupby(["objective", "grouping", "alpha", "bound"], sort=False)["coverage"].min()
    table = worst.unstack("bound").reset_index()
    table.columns.name = None
    return table.sort_values(["objective", "grouping", "alpha"], ascending=[True, True, False])
