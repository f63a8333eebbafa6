"""MLflow entry point ``evaluate``: re-evaluate a finished training run (run id or model URI)
in a child run: conformal table, plots and test metrics (see docs/mlflow.md). Same code as
``pitot-tf evaluate --run``.

Empty ``data_dir`` / ``splits_dir`` mean the training run's data directory and logged split
file; ``groupings`` (comma-separated) name the platform groups for per-group coverage.
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", required=True, help="training run id or model URI")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--splits-dir", default="")
    parser.add_argument("--groupings", default="")
    return parser.parse_args(argv)


def evaluate(args: argparse.Namespace) -> None:
    from pitot_tf.tracking.evaluation import evaluate_run
    from pitot_tf.tracking.experiments import adopt_project_run, is_pipeline_step, where_text
    from pitot_tf.tracking.params import optional, words
    from pitot_tf.tracking.report import summary_text

    adopt_project_run(experiment_of(args.run_id))  # beside the training run, not in Default
    result = evaluate_run(args.run_id, optional(args.data_dir), optional(args.splits_dir),
                          words(args.groupings) or None)
    print(f"evaluate: run {result.run_id} re-evaluated training run {result.evaluated_run_id} "
          "from its logged model")
    print(summary_text(result.evaluation))
    if not is_pipeline_step(result.run_id):
        print(where_text(result.run_id))


def experiment_of(ref: str) -> str:
    """The name of the experiment holding the training run behind ``ref``."""
    import mlflow

    from pitot_tf.tracking.evaluation import resolve_run_id

    client = mlflow.MlflowClient()
    run = client.get_run(resolve_run_id(ref))
    return str(client.get_experiment(run.info.experiment_id).name)


def main(argv: list[str] | None = None) -> int:
    from pitot_tf.tracking.entry import run_main

    args = parse_args(argv)
    return run_main(lambda: evaluate(args), vars(args))


if __name__ == "__main__":
    sys.exit(main())
