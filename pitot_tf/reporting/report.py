"""``pitot-tf sweep figures``: the summary figures of a sweep and the analysis of one of its
Pitot runs, saved as PNG files (default folder ``./figures``) and, when asked, logged to the
sweep's parent run under ``figures/``.

The analysis needs a logged model: by default the sweep's ``pitot`` run nearest level 0.5
(lowest replicate) that logged one; a sweep run with ``--log-model false`` has none, and the
analysis is skipped with a note (or name a run with ``--run``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure
from mlflow import MlflowClient
from mlflow.entities import Run

from pitot_tf.reporting.figures import REFERENCE, TIGHTNESS_LEVEL, save_figures, summary_figures
from pitot_tf.reporting.summary import sweep_summary
from pitot_tf.sweep.tags import TAG_HAS_MODEL
from pitot_tf.tracking import names

FIGURES_DIR = "figures"


@dataclass
class FigureReport:
    """What was drawn and where it went."""

    paths: list[Path]
    parent_run_id: str | None
    analysis_run_id: str | None
    notes: list[str] = field(default_factory=list)


def pick_analysis_run(runs: Mapping[str, Run], preset: str = REFERENCE,
                      level: float = TIGHTNESS_LEVEL) -> str | None:
    """The ``preset`` run with a logged model nearest ``level`` (then lowest replicate)."""
    candidates = [r for r in runs.values() if r.data.tags.get(names.TAG_PRESET) == preset
                  and r.data.tags.get(TAG_HAS_MODEL) == "true"]
    if not candidates:
        return None

    def distance(run: Run) -> tuple[float, int]:
        tags = run.data.tags
        return (abs(float(tags[names.TAG_LEVEL]) - level), int(tags[names.TAG_REPLICATE]))

    return min(candidates, key=distance).info.run_id


def run_analysis_figures(run_id: str) -> dict[str, Figure]:
    """Analysis figures of a training run's logged model, on its data and split."""
    from pitot_tf.reporting.analysis import analysis_figures
    from pitot_tf.tracking.evaluation import load_run_inputs

    inputs = load_run_inputs(run_id)
    return analysis_figures(inputs.model, inputs.dataset, inputs.split)


def sweep_figures(sweep: str | None = None, experiment: str | None = None,
                  out: str | Path = Path("figures"), run_id: str | None = None,
                  analysis: bool = True, log: bool = False) -> FigureReport:
    """Draw, save into ``out`` and (``log``) attach to the parent run every figure the
    sweep's presets allow, plus the analysis of ``run_id`` (default: see the module)."""
    summary = sweep_summary(sweep, experiment, log=False)
    figures = summary_figures(summary.table)
    notes = [] if figures else ["the sweep's presets allow no summary figure"]
    chosen = run_id or (pick_analysis_run(summary.runs) if analysis else None)
    if analysis and chosen is None:
        notes.append(f"no {REFERENCE} run with a logged model: analysis skipped "
                     "(sweep with --log-model true, or give --run-id)")
    elif analysis and chosen is not None:
        figures.update(run_analysis_figures(chosen))
    paths = save_figures(figures, out)
    if log and summary.parent_run_id:
        client = MlflowClient()
        for path in paths:
            client.log_artifact(summary.parent_run_id, str(path), FIGURES_DIR)
    return FigureReport(paths, summary.parent_run_id, chosen if analysis else None, notes)
