"""MLflow entry point ``data``: validate a data directory, or fetch or synthesize one, and log
its location, fingerprint and summary (see docs/mlflow.md).

``source`` is a path, ``fetch`` (download the published dataset into ``out``, default
``data``) or ``synthetic`` (write a synthetic dataset of ``platforms`` × ``workloads`` with
``seed`` into ``out``, default ``data/synthetic``).
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="synthetic")
    parser.add_argument("--out", default="")
    parser.add_argument("--platforms", default="48")
    parser.add_argument("--workloads", default="80")
    parser.add_argument("--seed", default="0")
    return parser.parse_args(argv)


def data(args: argparse.Namespace) -> None:
    from pitot_tf.tracking.experiments import adopt_project_run
    from pitot_tf.tracking.params import integer, optional
    from pitot_tf.tracking.steps import SynthOptions, run_data_step

    adopt_project_run(None)

    synth = SynthOptions(integer(args.platforms, "platforms"), integer(args.workloads, "workloads"),
                         seed=integer(args.seed, "seed"))
    run_id, dataset = run_data_step(args.source, optional(args.out), synth)
    print(f"run {run_id}: {dataset.source} is valid")


def main(argv: list[str] | None = None) -> int:
    from pitot_tf.tracking.entry import run_main

    args = parse_args(argv)
    return run_main(lambda: data(args), vars(args), {"--data-dir": "source"})


if __name__ == "__main__":
    sys.exit(main())
