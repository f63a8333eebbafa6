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
    parser.add_argument("--n-trials", default="20", help="finished trials in total")
    parser.add_argument("--workers", default="1", help="worker processes")
    parser.add_argument("--storage", default="", help="journal file or database URL")
    parser.add_argument("--timeout", default="0", help="seconds; 0 = none")
    parser.add_argument("--data-dir", default="", help="dataset folder")
    parser.add_argument("--splits-dir", default="", help="split files folder")
    parser.add_argument("--overrides", default="", help="space-separated key=value")
    parser.add_argument("--experiment", default="pitot", help="MLflow experiment")
    return parser.parse_args(argv)


def search(args: argparse.Namespace) -> None:
    from pitot_tf.config import parse_overrides
    from pitot_tf.search.runner import result_text, run_search
    from pitot_tf.tracking.experiments import adopt_project_run
    from pitot_tf.tracking.params import integer, optional, real, split_overrides

    adopt_project_run(optional(args.experiment))
    result = run_search(
        args.study, integer(args.n_trials, "n_trials"), optional(args.storage),
        integer(args.workers, "workers"), real(args.timeout, "timeout") or None,
        parse_overrides(split_overrides(args.overrides)), optional(args.data_dir),
        optional(args.splits_dir), experiment=optional(args.experiment))
    print(result_text(result))


def main(argv: list[str] | None = None) -> int:
    from pitot_tf.tracking.entry import run_main

    args = parse_args(argv)
    return run_main(lambda: search(args), vars(args))


if __name__ == "__main__":
    sys.exit(main())
