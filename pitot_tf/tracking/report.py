"""Plain-text summaries of an evaluation, as the CLI and the entry points print them."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from pitot_tf.conformal.evaluate import ALL_GROUPS, SUMMARY_ALPHAS, Evaluation

#: A group is flagged when its coverage is this far below the target 1 - alpha.
LOW_COVERAGE_SHORTFALL = 0.10


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
    lines += low_coverage_lines(evaluation.groups)
    lines += [f"note: {note}" for note in evaluation.notes]
    return "\n".join(lines)


def headline(evaluation: Evaluation) -> str:
    """The test result in one line (see :func:`headline_from_metrics`)."""
    return headline_from_metrics(evaluation.metrics(SUMMARY_ALPHAS))


def headline_from_metrics(metrics: Mapping[str, float], alpha: float = 0.05) -> str:
    """``test at alpha=0.05: mf MAPE 0.21, coverage 0.95, width 0.62; if2 ...`` from a run's
    ``test_*`` metrics."""
    objectives = sorted({k.split("_")[1] for k in metrics
                         if k.startswith("test_") and k.endswith("_mape")})
    parts = []
    for name in objectives:
        cover = metrics.get(f"test_{name}_coverage_{alpha:g}")
        width = metrics.get(f"test_{name}_width_{alpha:g}")
        text = f"{name} MAPE {metrics[f'test_{name}_mape']:.3f}"
        if cover is not None and width is not None:
            text += f", coverage {cover:.3f}, width {width:.3f}"
        parts.append(text)
    return f"test at alpha={alpha:g}: " + "; ".join(parts) if parts else "no test metrics"


def low_coverage_lines(groups: pd.DataFrame, shortfall: float = LOW_COVERAGE_SHORTFALL,
                       limit: int = 5) -> list[str]:
    """One warning line per group whose test coverage is more than ``shortfall`` below the
    target ``1 - α`` (at a summary α, for either bound), with its size: a shortfall in a group
    of 8 rows is noise more often than one in a group of 800. The line shows the α with the
    largest shortfall and both bounds there."""
    if groups.empty:
        return []
    rows = groups[(groups["group"] != ALL_GROUPS) & groups["alpha"].round(6).isin(SUMMARY_ALPHAS)]
    rows = rows.assign(short=1 - rows["alpha"] - rows["coverage"])
    keys = ["objective", "grouping", "group"]
    worst = rows.loc[rows.groupby(keys, sort=False)["short"].idxmax()]
    worst = worst[worst["short"] > shortfall].sort_values("short", ascending=False)
    lines = []
    for row in worst.head(limit).to_dict("records"):
        at = rows[(rows[keys] == pd.Series({k: row[k] for k in keys})).all(axis=1)
                  & (rows["alpha"] == row["alpha"])]
        bounds = ", ".join(f"{b['bound']} {float(b['coverage']):.2f}"
                           for b in at.to_dict("records"))
        lines.append(f"LOW COVERAGE: {row['objective']} {row['grouping']}={row['group']} "
                     f"({int(row['n'])} test rows): {bounds} vs target "
                     f"{1 - float(row['alpha']):.2f} at alpha={float(row['alpha']):g}")
    if len(worst) > limit:
        lines.append(f"LOW COVERAGE: {len(worst) - limit} more group(s); see "
                     "conformal_groups.csv")
    return lines


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
