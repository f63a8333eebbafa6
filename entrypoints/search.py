"""MLflow entry point ``search``: run an Optuna study (``mlflow run . -e search -P study=pitot``).

A thin wrapper around :func:`pitot_tf.search.runner.run_search` (the same code as
``pitot-tf search``). Inside ``mlflow run`` (``MLFLOW_RUN_ID`` set) the project's run is the
study's parent run and every trial is a nested run under it. Empty strings and 0 mean "not
given", so that MLproject defaults can be ``""``/``0``; ``overrides`` is a space-separated
list of ``key=value`` applied to every trial (``"training.steps=400 training.val_every=100"``).
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="pitot", help="study name or YAML file")
    parser.add_argument("--n-trials", type=float, default=20, help="finished trials in total")
    parser.add_argument("--workers", type=float, default=1, help="worker processes")
    parser.add_argument("--storage", default="", help="journal file or database URL")
    parser.add_argument("--timeout", type=float, default=0, help="seconds; 0 = none")
    parser.add_argument("--data-dir", default="", help="dataset folder")
    parser.add_argument("--splits-dir", default="", help="split files folder")
    parser.add_argument("--overrides", default="", help="space-separated key=value")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from pitot_tf.config import parse_overrides
    from pitot_tf.errors import PitotError
    from pitot_tf.search.runner import run_search

    args = parse_args(argv)
    try:
        result = run_search(
            args.study, int(args.n_trials), args.storage or None, int(args.workers),
            args.timeout or None, parse_overrides(args.overrides.split()),
            args.data_dir or None, args.splits_dir or None)
    except PitotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"study {result.study}: {result.finished}/{result.target} finished, "
          f"{result.failed} failed; best trial {result.best_trial} {result.best_values}; "
          f"Pareto front {result.pareto_trials}; parent run {result.parent_run_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
