"""The paper's figures drawn from a sweep summary (:func:`pitot_tf.sweep.summary.summarize`).

Every function takes the summary table (columns ``preset, level, objective, alpha, mape,
mape_err, width, width_err, ...``) and returns a :class:`matplotlib.figure.Figure` built
without pyplot. Objectives get one panel each: ``mf`` (no interference) and ``if2``, ``if3``
(K-way interference). Presets missing from the table are left out; a panel with nothing to
draw says so, so that any summary draws without error.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

REFERENCE = "pitot"
BASELINES = ("pitot", "baseline/factorization", "baseline/monolith", "baseline/attention")
BOUND_BASELINES = ("conformal/optimal", "baseline/factorization", "baseline/monolith",
                   "baseline/attention")
CQR = ("pitot", "conformal/naive", "conformal/optimal")
ABLATIONS: dict[str, tuple[str, ...]] = {
    "components": ("components/nobaseline", "components/discard",
                   "components/ignore", "components/notrectified"),
    "features": ("features/noworkload", "features/noplatform", "features/blackbox"),
    "interference": ("interference/*",),
    "embedding": ("embedding/*",),
    "learned": ("learned/*",),
    "weight": ("weight/*",),
}
TIGHTNESS_LEVEL = 0.5


def objective_title(objective: str) -> str:
    """``mf`` → "mf (no interference)"; ``if2`` → "if2 (2-way interference)"."""
    if objective.startswith("if") and objective[2:].isdigit():
        return f"{objective} ({objective[2:]}-way interference)"
    return f"{objective} (no interference)" if objective == "mf" else objective


def matching(table: pd.DataFrame, patterns: Sequence[str]) -> list[str]:
    """Presets of the table matching ``patterns`` (globs), in pattern order."""
    present = list(dict.fromkeys(table["preset"].astype(str)))
    chosen: list[str] = []
    for pattern in patterns:
        chosen += [p for p in fnmatch.filter(present, pattern) if p not in chosen]
    return chosen


def _panels(table: pd.DataFrame, title: str, width: float = 4.5) -> tuple[Figure, list[Axes]]:
    objectives = sorted(table["objective"].astype(str).unique()) or ["(none)"]
    fig = Figure(figsize=(width * len(objectives), 3.8), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(1, len(objectives), squeeze=False))[0])
    for ax, objective in zip(axes, objectives, strict=True):
        ax.set_title(objective_title(objective))
    fig.suptitle(title)
    return fig, axes


def _empty(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no runs of {what}", ha="center", va="center", transform=ax.transAxes)


def _objectives(table: pd.DataFrame) -> list[str]:
    return sorted(table["objective"].astype(str).unique())


def _draw(axes: list[Axes], rows: pd.DataFrame, objectives: list[str], presets: Sequence[str],
          x: str, y: str, scale: float = 1.0) -> None:
    """One line per preset (with ±``<y>_err`` bars when the column exists) in each objective's
    panel; a panel with no line says which presets it lacks."""
    for ax, objective in zip(axes, objectives, strict=False):
        drawn = False
        for preset in matching(rows, presets):
            mine = rows[(rows["preset"] == preset) & (rows["objective"] == objective)]
            mine = mine[np.isfinite(mine[y].to_numpy(dtype=float))].sort_values(x)
            if not len(mine):
                continue
            err = mine[f"{y}_err"].fillna(0.0) * scale if f"{y}_err" in mine else None
            ax.errorbar(mine[x], mine[y] * scale, yerr=err, marker="o", markersize=3,
                        capsize=2, label=preset)
            drawn = True
        if drawn:
            ax.legend(fontsize=7)
        else:
            _empty(ax, ", ".join(presets))
    if not objectives:
        _empty(axes[0], ", ".join(presets))


def _at_alpha(table: pd.DataFrame, alpha: float | None = None) -> pd.DataFrame:
    """One α per preset × level × objective (MAPE repeats over α): the largest, or ``alpha``."""
    if table.empty:
        return table
    wanted = table["alpha"].max() if alpha is None else alpha
    return table[np.isclose(table["alpha"].astype(float), wanted)]


def mape_vs_level(table: pd.DataFrame, presets: Sequence[str] = BASELINES,
                  title: str = "MAPE against training fraction") -> Figure:
    """Test MAPE (%) against the data level, one line per preset, ±2 standard errors."""
    fig, axes = _panels(table, title)
    _draw(axes, _at_alpha(table), _objectives(table), presets, "level", "mape", 100.0)
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    for ax in axes:
        ax.set_xlabel("training fraction (data level)")
        ax.set_ylabel("MAPE (%)")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    return fig


def nearest_level(table: pd.DataFrame, level: float = TIGHTNESS_LEVEL) -> float | None:
    """The table's level closest to ``level`` (None for an empty table)."""
    levels = table["level"].astype(float).unique()
    return float(levels[np.argmin(np.abs(levels - level))]) if len(levels) else None


def tightness_vs_alpha(table: pd.DataFrame, presets: Sequence[str] = BOUND_BASELINES,
                       level: float = TIGHTNESS_LEVEL,
                       title: str = "Bound tightness against miscoverage") -> Figure:
    """Bound width (mean ``|t/u − 1|``) against α at the level nearest ``level``, ±2
    standard errors: lower is tighter; smaller α (more coverage) costs width."""
    at = nearest_level(table, level)
    fig, axes = _panels(table, f"{title} (level {at:g})" if at is not None else title)
    rows = table[np.isclose(table["level"].astype(float), at)] if at is not None else table
    _draw(axes, rows, _objectives(table), presets, "alpha", "width")
    for ax in axes:
        ax.set_xlabel("miscoverage α")
        ax.set_ylabel("bound width  mean |t/u − 1|")
        ax.invert_xaxis()
    return fig


def relative_mape(table: pd.DataFrame, reference: str = REFERENCE) -> pd.DataFrame:
    """MAPE of every preset relative to ``reference`` at the same level and objective:
    ``relative = mape / reference mape - 1`` (0 = as good as the reference; NaN where the
    reference has no run)."""
    rows = _at_alpha(table)
    base = rows[rows["preset"] == reference].set_index(["level", "objective"])["mape"]
    keys = list(zip(rows["level"], rows["objective"], strict=True))
    ratio = np.array([base.get(k, np.nan) for k in keys], dtype=float)
    return rows.assign(relative=rows["mape"].to_numpy(dtype=float) / ratio - 1.0)


def ablation_plot(table: pd.DataFrame, presets: Sequence[str], title: str,
                  reference: str = REFERENCE) -> Figure:
    """MAPE relative to ``reference`` (%) against the level, one line per ablation preset;
    above the dashed line the ablation is worse than the reference. When the ablation was run
    at one level only, one bar per preset instead (a line of one point says nothing)."""
    relative = relative_mape(table, reference)
    chosen = relative[relative["preset"].isin(matching(relative, presets))]
    levels = chosen["level"].astype(float).unique()
    if len(levels) == 1:
        return _ablation_bars(relative, presets, f"{title} at level {levels[0]:g}", reference)
    fig, axes = _panels(table, f"{title}: MAPE relative to {reference}")
    _draw(axes, relative, _objectives(table), presets, "level", "relative", 100.0)
    for ax in axes:
        ax.axhline(0.0, color="black", linewidth=1, linestyle="--")
        ax.set_xlabel("training fraction (data level)")
        ax.set_ylabel(f"MAPE vs {reference} (%)")
    return fig


def _ablation_bars(relative: pd.DataFrame, presets: Sequence[str], title: str,
                   reference: str) -> Figure:
    """One horizontal bar per preset: its MAPE relative to ``reference`` (%), labelled."""
    fig, axes = _panels(relative, f"{title}: MAPE relative to {reference}")
    for ax, objective in zip(axes, _objectives(relative), strict=False):
        mine = relative[relative["objective"] == objective]
        names = [p for p in matching(mine, presets) if p != reference]
        values = [100.0 * float(mine.loc[mine["preset"] == p, "relative"].iloc[0])
                  for p in names]
        if not names:
            _empty(ax, ", ".join(presets))
            continue
        bars = ax.barh(names, values, color=["tab:red" if v > 0 else "tab:green"
                                             for v in values])
        ax.bar_label(bars, labels=[f"{v:+.0f}%" for v in values], padding=2, fontsize=8)
        ax.axvline(0.0, color="black", linewidth=1)
        ax.invert_yaxis()
        ax.margins(x=0.2)
        ax.set_xlabel(f"MAPE vs {reference} (%): right of 0 is worse")
    return fig


def summary_figures(table: pd.DataFrame) -> dict[str, Figure]:
    """Every figure whose presets the table has, by file name."""
    figures: dict[str, Figure] = {}
    if len(matching(table, BASELINES)) > 0:
        figures["mape_vs_level.png"] = mape_vs_level(table)
    if matching(table, BOUND_BASELINES):
        figures["tightness_baselines.png"] = tightness_vs_alpha(
            table, BOUND_BASELINES, title="Bound tightness: Pitot (CQR) and baselines")
    if matching(table, CQR):
        figures["tightness_cqr.png"] = tightness_vs_alpha(
            table, CQR, title="CQR ablation: bound tightness")
    for name, patterns in ABLATIONS.items():
        if matching(table, patterns) and REFERENCE in set(table["preset"]):
            figures[f"ablation_{name}.png"] = ablation_plot(table, patterns, f"Ablation: {name}")
    return figures


def save_figures(figures: dict[str, Figure], out: str | Path, dpi: int = 100) -> list[Path]:
    """Write each figure as ``out/<name>`` (PNG); return the paths."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        figure.savefig(folder / name, dpi=dpi)
        paths.append(folder / name)
    return paths
