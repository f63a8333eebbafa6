"""What a run logs: params, per-validation metrics, the conformal numbers and the artifacts.

Artifacts are first written to a staging folder and uploaded together at the end
(:func:`staged_artifacts`), so a run never shows some files of a step but not others; the
run itself only ends FINISHED when everything was logged (see :mod:`~pitot_tf.tracking.runs`).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param

from pitot_tf.config import Config
from pitot_tf.conformal.evaluate import SUMMARY_ALPHAS, Evaluation
from pitot_tf.tracking.names import CONFIG_FILE, HISTORY_FILE, PLOTS_DIR
from pitot_tf.training.trainer import TrainResult, ValidationCallback

_BATCH = 100
PLOT_ALPHA = 0.05


@contextmanager
def staged_artifacts() -> Iterator[Path]:
    """A temporary folder whose files are logged to the active run at once on success."""
    with tempfile.TemporaryDirectory(prefix="pitot-artifacts-") as folder:
        yield Path(folder)
        mlflow.log_artifacts(folder)


def log_params(params: Mapping[str, Any]) -> None:
    """Log params (values as strings, lists as ``[1, 2]``) in batches, skipping those the run
    already has with the same value (e.g. logged by ``mlflow run``)."""
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("log_params needs an active MLflow run")
    client = mlflow.MlflowClient()
    existing = client.get_run(run.info.run_id).data.params
    fresh = [Param(k, str(v)) for k, v in params.items() if existing.get(k) != str(v)]
    for start in range(0, len(fresh), _BATCH):
        client.log_batch(run.info.run_id, params=fresh[start:start + _BATCH])


def log_metrics(values: Mapping[str, float], step: int | None = None) -> None:
    """Log metrics in batches (one call per 100) at ``step``."""
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("log_metrics needs an active MLflow run")
    now = int(time.time() * 1000)
    metrics = [Metric(k, float(v), now, step or 0) for k, v in values.items()]
    for start in range(0, len(metrics), _BATCH):
        mlflow.MlflowClient().log_batch(run.info.run_id, metrics=metrics[start:start + _BATCH])


def log_config(config: Config, stage: Path) -> None:
    """The resolved config as flat params (``model.mf_dim``, ...) and as ``config.json``."""
    log_params(config.flat())
    (stage / CONFIG_FILE).write_text(config.to_json())


def validation_logger(then: ValidationCallback | None = None) -> ValidationCallback:
    """A training callback logging ``val_loss`` and ``val_<objective>_loss`` at each
    validation step, then calling ``then`` (which may raise to stop training)."""

    def on_validation(step: int, weighted: float, losses: dict[str, float]) -> None:
        log_metrics({"val_loss": weighted, **{f"val_{k}_loss": v for k, v in losses.items()}},
                    step=step)
        if then is not None:
            then(step, weighted, losses)

    return on_validation


def log_training(result: TrainResult, stage: Path) -> None:
    """The training loss per validation step, speed and best step; ``history.csv``."""
    run = mlflow.active_run()
    assert run is not None
    now = int(time.time() * 1000)
    steps = result.history["step"].to_numpy(dtype=int).tolist()
    values = result.history["train_loss"].to_numpy(dtype=float).tolist()
    losses = [Metric("train_loss", v, now, s) for s, v in zip(steps, values, strict=True)]
    for start in range(0, len(losses), _BATCH):
        mlflow.MlflowClient().log_batch(run.info.run_id, metrics=losses[start:start + _BATCH])
    log_metrics({"wall_s": result.wall_s, "steps_per_s": result.steps_per_s,
                 "best_step": result.best_step, "best_val_loss": result.best_val_loss})
    result.history.to_csv(stage / HISTORY_FILE, index=False)


def log_evaluation(evaluation: Evaluation, stage: Path) -> None:
    """Test and validation metrics under stable names, the tables and the plots."""
    log_metrics(evaluation.metrics(SUMMARY_ALPHAS))
    evaluation.save(stage)
    write_figures(evaluation, stage / PLOTS_DIR)


def write_figures(evaluation: Evaluation, folder: Path) -> list[Path]:
    """Calibration, bound-tightness and one predicted-vs-actual plot per objective (PNG)."""
    from pitot_tf.conformal.plots import (
        calibration_plot,
        predicted_vs_actual_plot,
        tightness_plot,
    )

    folder.mkdir(parents=True, exist_ok=True)
    chosen = evaluation.table.query("split == 'test' and chosen")
    figures = {"calibration.png": calibration_plot(chosen), "tightness.png": tightness_plot(chosen)}
    for objective, bound in evaluation.bounds.items():
        alpha = PLOT_ALPHA if PLOT_ALPHA in bound.alphas else max(bound.alphas)
        true_s, pred_s, bound_s = evaluation.test_runtimes(objective, alpha)
        title = f"{objective}: test rows, upper bound at alpha={alpha:g}"
        figures[f"predicted_vs_actual_{objective}.png"] = predicted_vs_actual_plot(
            true_s, pred_s, bound_s, title)
    for name, figure in figures.items():
        figure.savefig(folder / name, dpi=100)
    return [folder / name for name in figures]
