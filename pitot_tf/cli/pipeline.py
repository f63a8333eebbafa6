"""``pitot-tf pipeline`` (data → split → train → evaluate as MLflow runs, reusing finished
ones) and ``pitot-tf data log`` (its data step): the MLflow ``main`` and ``data`` entry
points."""

from __future__ import annotations

from typing import Annotated

import typer

from pitot_tf.cli.app import app, data_app
from pitot_tf.cli.common import DEFAULT, Experiment, OptionalStr, Overrides, not_default, pairs

Source = Annotated[str, typer.Option(
    help="published (the dataset built into pitot-tf), a dataset folder, fetch (download the "
         "published dataset) or synthetic (write one).")]
SynthPlatforms = Annotated[int, typer.Option(help="Platforms of a synthetic dataset.")]
SynthWorkloads = Annotated[int, typer.Option(help="Workloads of a synthetic dataset.")]
SynthSeed = Annotated[int, typer.Option(help="Seed of a synthetic dataset.")]


@data_app.command("log")
def log(
    source: Source = "published",
    out: Annotated[OptionalStr, typer.Option(
        callback=not_default, show_default=False,
        help="Folder to fetch or synthesize into (default: data for fetch, data/synthetic "
             "for synthetic).")] = None,
    platforms: SynthPlatforms = 48, workloads: SynthWorkloads = 80, seed: SynthSeed = 0,
) -> None:
    """Obtain a dataset (a folder, fetched or synthetic), validate it and record it as an
    MLflow run: its folder, fingerprint, shape and summary."""
    from pitot_tf.tracking.experiments import adopt_project_run
    from pitot_tf.tracking.steps import SynthOptions, run_data_step

    adopt_project_run(None)
    run_id, dataset = run_data_step(source, out, SynthOptions(platforms, workloads, seed=seed))
    typer.echo(f"run {run_id}: {dataset.source} is valid")


@app.command("pipeline")
def pipeline(
    source: Source = "published",
    data_out: Annotated[str, typer.Option(
        help="Folder the data step fetches or synthesizes into; the word default means data "
             "for fetch, data/synthetic for synthetic.")] = DEFAULT,
    splits_dir: Annotated[str, typer.Option(
        help="Folder the split step writes and training reads.")] = "splits",
    split_seed: Annotated[int, typer.Option(help="Seed of the split.")] = 42,
    preset: Annotated[str, typer.Option(help="Preset to train.")] = "pitot",
    overrides: Overrides = None,
    level: Annotated[float, typer.Option(help="Data level of the split (0 < L < 1).")] = 0.5,
    replicate: Annotated[int, typer.Option(help="Replicate of the split.")] = 0,
    steps: Annotated[int, typer.Option(
        help="Training steps; 0: the preset's training.steps.")] = 0,
    env_manager: Annotated[str, typer.Option(
        help="MLflow environment manager for every step: local, virtualenv, uv or conda.")
    ] = "local",
    experiment: Experiment = None,
) -> None:
    """Run data → split → train → evaluate, each step a child `mlflow run` of this project,
    reusing a FINISHED run with the same parameters and code version instead of redoing it."""
    import mlflow

    from pitot_tf.errors import ConfigError
    from pitot_tf.tracking.experiments import adopt_project_run, where_text
    from pitot_tf.tracking.fingerprint import PROJECT_ROOT
    from pitot_tf.tracking.report import headline_from_metrics
    from pitot_tf.tracking.workflow import PipelineSpec, run_pipeline

    if not (PROJECT_ROOT / "MLproject").is_file():
        raise ConfigError(f"no MLproject in {PROJECT_ROOT}: the pipeline runs the MLflow "
                          "project of a source checkout (pip install -e .)")
    adopt_project_run(experiment)
    spec = PipelineSpec(
        source=source, data_out=data_out, splits_dir=splits_dir, split_seed=split_seed,
        preset=preset, overrides=tuple(pairs(overrides)), level=level, replicate=replicate,
        steps=steps, env_manager=env_manager, experiment=experiment)
    runs = run_pipeline(spec, PROJECT_ROOT)
    reused = [step for step, run in runs.items() if run.reused]
    typer.echo("pipeline: " + ", ".join(f"{step} run {run.run_id}" for step, run in runs.items()))
    if reused:
        typer.echo(f"reused finished runs for: {', '.join(reused)} (same parameters and code)")
    if runs["evaluate"].reused:  # no step printed the result this time
        metrics = mlflow.MlflowClient().get_run(runs["train"].run_id).data.metrics
        typer.echo(f"train (reused): {headline_from_metrics(metrics)}")
    typer.echo(where_text(runs["train"].run_id))
