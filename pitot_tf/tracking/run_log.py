"""What a run logs: params, per-validation metrics, the conformal numbers and the artifacts.

Artifacts are first written to a staging folder and uploaded together at the end
(:func:`staged_artifacts`), so a run never shows some files of a step but not others; the
run itself only ends FINISHED when everything was logged (see :mod:`~pitot_tf.tracking.runs`).
"""

from __future__ import annotations

import shlex
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param, RunTag

from pitot_tf.config import Config
from pitot_tf.conformal.evaluate import SUMMARY_ALPHAS, Evaluation
from pitot_tf.redaction import redact
from pitot_tf.tracking.names import CONFIG_FILE, HISTORY_FILE, PLOTS_DIR, TAG_RESOLVED
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
    """Log params (values as strings, lists as ``[1, 2]``) in batches.

    A param the run already has (``mlflow run`` logs the project's parameters as typed) is
    not logged twice: when the value differs (``data_dir=''`` but the data came from
    ``$PITOT_DATA``) the value that ran goes to tag ``pitot.resolved.<key>`` instead.
    """
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("log_params needs an active MLflow run")
    log_params_to(mlflow.MlflowClient(), run.info.run_id, params)


def log_params_to(client: mlflow.MlflowClient, run_id: str, params: Mapping[str, Any]) -> None:
    """:func:`log_params` for run ``run_id`` through ``client``; values are redacted
    (:func:`~pitot_tf.redaction.redact`)."""
    existing = client.get_run(run_id).data.params
    shown = {k: redact(str(v)) for k, v in params.items()}  # no password in any param
    fresh = [Param(k, v) for k, v in shown.items() if k not in existing]
    resolved = [RunTag(f"{TAG_RESOLVED}{k}", v) for k, v in shown.items()
                if k in existing and not _same_text(existing[k], v)]
    for start in range(0, len(fresh), _BATCH):
        client.log_batch(run_id, params=fresh[start:start + _BATCH])
    if resolved:
        client.log_batch(run_id, tags=resolved)


def _same_text(logged: str, value: str) -> bool:
    """``mlflow run`` logs values shell-quoted and as typed (``0.50``): compare meanings."""
    if logged in (value, shlex.quote(value)):
        return True
    try:
        return float(logged) == float(value)
    except ValueError:
        return False


def run_param(params: Mapping[str, str], tags: Mapping[str, str], key: str) -> str | None:
    """What ran for param ``key``: tag ``pitot.resolved.<key>`` if set, else the param."""
    return tags.get(f"{TAG_RESOLVED}{key}", params.get(key))


def log_metrics(values: Mapping[str, float], step: int | None = None,
                model_ids: Sequence[str] = ()) -> None:
    """Log metrics in batches (one call per 100) at ``step``; with ``model_ids`` each value
    is linked to each of those LoggedModels (MLflow shows them on the model's page)."""
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("log_metrics needs an active MLflow run")
    now, run_id = int(time.time() * 1000), run.info.run_id
    links: list[str | None] = list(model_ids) or [None]
    metrics = [Metric(k, float(v), now, step or 0, model_id=model_id, run_id=run_id)
               for model_id in links for k, v in values.items()]
    for start in range(0, len(metrics), _BATCH):
        mlflow.MlflowClient().log_batch(run_id, metrics=metrics[start:start + _BATCH])


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


def log_evaluation(evaluation: Evaluation, stage: Path, label: str = "",
                   model_ids: Sequence[str] = ()) -> None:
    """Test and validation metrics under stable names (linked to the run's LoggedModels
    ``model_ids``, when it logged any), the tables and the plots (titled with the run's
    ``label``, e.g. ``pitot L0.5 r0``)."""
    log_metrics(evaluation.metrics(SUMMARY_ALPHAS), model_ids=model_ids)
    evaluation.save(stage)
    write_figures(evaluation, stage / PLOTS_DIR, label)


def write_figures(evaluation: Evaluation, folder: Path, label: str = "") -> list[Path]:
    """Calibration, bound-tightness and one predicted-vs-actual plot per objective (PNG), each
    titled with the run (``label``) and the split it shows."""
    from pitot_tf.conformal.plots import (
        calibration_plot,
        predicted_vs_actual_plot,
        tightness_plot,
    )

    folder.mkdir(parents=True, exist_ok=True)
    run = f"{label}: " if label else ""
    split = "test split, bounds calibrated on validation"
    chosen = evaluation.table.query("split == 'test' and chosen")
    figures = {"calibration.png": calibration_plot(chosen, f"{run}coverage\n{split}"),
               "tightness.png": tightness_plot(chosen, f"{run}bound width\n{split}")}
    for objective, bound in evaluation.bounds.items():
        alpha = PLOT_ALPHA if PLOT_ALPHA in bound.alphas else max(bound.alphas)
        true_s, pred_s, bound_s = evaluation.test_runtimes(objective, alpha)
        title = f"{run}{objective}\ntest split, upper bound at α={alpha:g}"
        figures[f"predicted_vs_actual_{objective}.png"] = predicted_vs_actual_plot(
            true_s, pred_s, bound_s, title)
    for name, figure in figures.items():
        figure.savefig(folder / name, dpi=100)
    return [folder / name for name in figures]
