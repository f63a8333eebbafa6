"""``pitot-tf train``: one tracked training run (also the MLflow ``train`` entry point)."""

from __future__ import annotations

from typing import Annotated

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import (
    DataDir,
    Experiment,
    LogModel,
    OptionalStr,
    Overrides,
    SplitsDir,
    Switch,
    overrides_of,
)

Preset = Annotated[str, typer.Option(help="Preset name (`pitot-tf presets` lists them).")]
Level = Annotated[float, typer.Option(help="Data level of the split (0 < L < 1).")]
Replicate = Annotated[int, typer.Option(help="Replicate of the split.")]
Steps = Annotated[int, typer.Option(help="Training steps; 0: the preset's training.steps.")]
Register = Annotated[OptionalStr, typer.Option(
    show_default=False, help="Register the pyfunc model as NAME (default: not registered).")]
Alias = Annotated[OptionalStr, typer.Option(
    show_default=False, help="Point this alias (e.g. champion) at it (default: none).")]


@app.command("train")
def train(
    preset: Preset = "pitot", overrides: Overrides = None, level: Level = 0.5,
    replicate: Replicate = 0, steps: Steps = 0, experiment: Experiment = None,
    data_dir: DataDir = None, splits_dir: SplitsDir = None, register: Register = None,
    alias: Alias = None, log_model: LogModel = Switch.true,
) -> None:
    """Train, evaluate the conformal bounds on the test split and log it all to MLflow."""
    from pitot_tf.errors import ConfigError
    from pitot_tf.tracking.experiments import adopt_project_run, is_pipeline_step, where_text
    from pitot_tf.tracking.report import headline, summary_text
    from pitot_tf.tracking.training import RunOptions, run_training

    if steps < 0:
        raise ConfigError(f"--steps must be >= 0, got {steps}")
    if alias and not register:
        raise ConfigError("--alias needs --register NAME")
    if register and log_model is Switch.false:
        raise ConfigError("--register needs the model: drop --log-model false")
    adopt_project_run(experiment)
    values = {**overrides_of(overrides), **({"training.steps": steps} if steps else {})}
    run = run_training(preset, values, RunOptions(
        level, replicate, data_dir, splits_dir, experiment, log_model=log_model is Switch.true))
    step = is_pipeline_step(run.run_id)  # the pipeline's evaluate step prints the table
    typer.echo(f"train: run {run.run_id}; {headline(run.evaluation)}" if step
               else summary_text(run.evaluation))
    if register:
        from pitot_tf.tracking.registry import register_run_model

        registration = register_run_model(run.run_id, register, alias)
        typer.echo(f"registered {registration.name} version {registration.version}: "
                   f"load it as {registration.uri}")
    if not step:
        typer.echo(where_text(run.run_id))
