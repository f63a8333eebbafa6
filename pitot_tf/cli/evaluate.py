"""``pitot-tf evaluate``: the conformal table of a model file (untracked), or of a finished
training run (``--run-id``, logged as a child run; also the MLflow ``evaluate`` entry point)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import DataDir, OptionalStr, SplitsDir, Words, items, not_default

if TYPE_CHECKING:
    from pitot_tf.conformal.evaluate import Evaluation

ModelUri = Annotated[OptionalStr, typer.Option(
    "--model-uri", show_default=False,
    help="Untracked: a .keras file or Keras model URI, runs:/<run id>/model (default: none; "
         "give this or --run-id).")]
RunId = Annotated[OptionalStr, typer.Option(
    "--run-id", show_default=False,
    help="Tracked: a training run id (or runs:/, models:/ URI); logs a child run (default: "
         "none; give this or --model-uri).")]
Level = Annotated[float, typer.Option(help="Data level of the split (with --model-uri).")]
Replicate = Annotated[int, typer.Option(help="Replicate of the split (with --model-uri).")]
Groupings = Annotated[Words, typer.Option(
    "--groupings", callback=not_default, show_default=False,
    help="Platform groupings for per-group coverage, repeatable or comma-separated: "
         "runtime,uarch (default: every grouping the data has).")]
Out = Annotated[Path, typer.Option(help="Folder for the tables (with --model-uri).")]


@app.command("evaluate")
def evaluate(
    model_uri: ModelUri = None, run_id: RunId = None, data_dir: DataDir = None,
    splits_dir: SplitsDir = None, level: Level = 0.5, replicate: Replicate = 0,
    groupings: Groupings = None, out: Out = Path("results/evaluation"),
) -> None:
    """Calibrate on the validation split, evaluate on test; print the summary (alpha = 0.1,
    0.05, 0.01) and write the full table. With --run-id the data and split default to the
    training run's, and the result is a child run of it (the MLflow evaluate entry point)."""
    from pitot_tf.errors import ConfigError
    from pitot_tf.tracking.report import summary_text

    if (model_uri is None) == (run_id is None):
        raise ConfigError("give exactly one of --model-uri PATH_OR_URI and --run-id RUN_ID")
    names = items(groupings) or None
    if run_id is not None:
        from pitot_tf.tracking.evaluation import evaluate_run, experiment_of
        from pitot_tf.tracking.experiments import (
            adopt_project_run,
            is_pipeline_step,
            where_text,
        )

        adopt_project_run(experiment_of(run_id))  # beside the training run, not in Default
        result = evaluate_run(run_id, data_dir, splits_dir, names)
        typer.echo(f"evaluate: run {result.run_id} re-evaluated training run "
                   f"{result.evaluated_run_id} from its logged model")
        typer.echo(summary_text(result.evaluation))
        if not is_pipeline_step(result.run_id):
            typer.echo(where_text(result.run_id))
        return
    assert model_uri is not None
    evaluation = evaluate_model(model_uri, data_dir, splits_dir, level, replicate, names)
    typer.echo(summary_text(evaluation))
    written = evaluation.save(out)
    typer.echo(f"wrote {', '.join(str(p) for p in written)}")


def evaluate_model(
    model: str, data_dir: Path | None, splits_dir: Path | None, level: float, replicate: int,
    groupings: list[str] | None,
) -> Evaluation:
    """Evaluate a model file on a split file (or a split made with the default seed)."""
    from pitot_tf.conformal.evaluate import evaluate as evaluate_bounds
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.data.splits import check_level, load_split, make_split, split_path
    from pitot_tf.training.experiment import DEFAULT_SPLIT_SEED
    from pitot_tf.training.warm_start import load_keras_model

    dataset = load_dataset(data_dir)
    level = check_level(level)
    if splits_dir is not None:
        split = load_split(split_path(splits_dir, level, replicate), dataset)
    else:
        split = make_split(dataset, level, replicate, DEFAULT_SPLIT_SEED)
    return evaluate_bounds(load_keras_model(model), dataset, split, groupings=groupings)
