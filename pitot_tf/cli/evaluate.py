"""``pitot-tf evaluate``: the conformal table of a model file (untracked), or of a finished
training run (``--run``, logged as a child run like the MLflow ``evaluate`` entry point)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import DataDir, SplitsDir

if TYPE_CHECKING:
    from pitot_tf.conformal.evaluate import Evaluation

OptionalStr = Optional[str]  # noqa: UP045 - typer needs Optional on Python 3.10
Model = Annotated[OptionalStr, typer.Option(help=".keras file or model URI (runs:/ID/model).")]
Run = Annotated[OptionalStr, typer.Option(help="Training run id (or model URI): log to MLflow.")]
Level = Annotated[float, typer.Option(help="Data level of the split (with --model).")]
Replicate = Annotated[int, typer.Option(help="Replicate of the split (with --model).")]
Groupings = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option("--grouping", help="Platform grouping for per-group coverage (repeatable)."),
]
Out = Annotated[Path, typer.Option(help="Folder for the tables (with --model).")]


@app.command("evaluate")
def evaluate(
    model: Model = None, run: Run = None, data_dir: DataDir = None, splits_dir: SplitsDir = None,
    level: Level = 0.5, replicate: Replicate = 0, grouping: Groupings = None,
    out: Out = Path("results/evaluation"),
) -> None:
    """Calibrate on the validation split, evaluate on test; print the summary (alpha = 0.1,
    0.05, 0.01) and write the full table."""
    from pitot_tf.errors import ConfigError
    from pitot_tf.tracking.report import summary_text

    if (model is None) == (run is None):
        raise ConfigError("give exactly one of --model PATH_OR_URI and --run RUN_ID")
    if run is not None:
        from pitot_tf.tracking.evaluation import evaluate_run

        result = evaluate_run(run, data_dir, splits_dir, grouping)
        from pitot_tf.tracking.experiments import where_text

        typer.echo(f"evaluated training run {result.evaluated_run_id}")
        typer.echo(summary_text(result.evaluation))
        typer.echo(where_text(result.run_id))
        return
    assert model is not None
    evaluation = evaluate_model(model, data_dir, splits_dir, level, replicate, grouping)
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
    from pitot_tf.tracking.evaluation import load_keras_model
    from pitot_tf.training.experiment import DEFAULT_SPLIT_SEED

    dataset = load_dataset(data_dir)
    level = check_level(level)
    if splits_dir is not None:
        split = load_split(split_path(splits_dir, level, replicate), dataset)
    else:
        split = make_split(dataset, level, replicate, DEFAULT_SPLIT_SEED)
    return evaluate_bounds(load_keras_model(model), dataset, split, groupings=groupings)
