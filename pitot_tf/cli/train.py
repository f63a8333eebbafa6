"""``pitot-tf train``: one tracked training run, as the MLflow ``train`` entry point does."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import DataDir, Overrides, SplitsDir

OptionalStr = Optional[str]  # noqa: UP045 - typer needs Optional on Python 3.10
Preset = Annotated[str, typer.Option(help="Preset name (`pitot-tf presets` lists them).")]
Level = Annotated[float, typer.Option(help="Data level of the split (0 < L < 1).")]
Replicate = Annotated[int, typer.Option(help="Replicate of the split.")]
Steps = Annotated[Optional[int], typer.Option(help="Training steps (default: the preset's).")]  # noqa: UP045
Experiment = Annotated[OptionalStr, typer.Option(
    help="MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME, else pitot).")]
Register = Annotated[OptionalStr, typer.Option(help="Register the pyfunc model as NAME.")]
Alias = Annotated[OptionalStr, typer.Option(help="Point this alias (e.g. champion) at it.")]
LogModel = Annotated[bool, typer.Option("--log-model/--no-model", help="Log the models.")]


@app.command("train")
def train(
    preset: Preset = "pitot", overrides: Overrides = None, level: Level = 0.5,
    replicate: Replicate = 0, steps: Steps = None, experiment: Experiment = None,
    data_dir: DataDir = None, splits_dir: SplitsDir = None, register: Register = None,
    alias: Alias = None, log_model: LogModel = True,
) -> None:
    """Train, evaluate the conformal bounds on the test split and log it all to MLflow."""
    from pitot_tf.config import parse_overrides
    from pitot_tf.errors import ConfigError
    from pitot_tf.tracking.experiments import where_text
    from pitot_tf.tracking.report import summary_text
    from pitot_tf.tracking.training import run_training

    if alias and not register:
        raise ConfigError("--alias needs --register NAME")
    if register and not log_model:
        raise ConfigError("--register needs the model: drop --no-model")
    run = run_training(preset, parse_overrides(overrides or []), level, replicate, data_dir,
                       splits_dir, steps, experiment=experiment, log_model=log_model)
    assert run.evaluation is not None
    typer.echo(summary_text(run.evaluation))
    if register:
        from pitot_tf.tracking.registry import register_run_model

        registration = register_run_model(run.run_id, register, alias)
        typer.echo(f"registered {registration.name} version {registration.version}: "
                   f"load it as {registration.uri}")
    typer.echo(where_text(run.run_id))
