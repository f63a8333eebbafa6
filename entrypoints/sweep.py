"""MLflow entry point ``sweep``: train and evaluate every preset × level × replicate, one
nested run each under the project's run (see docs/sweeps.md). Same code as ``pitot-tf sweep``.

Parameters arrive as text; empty means "not given": ``presets`` is a space- or
comma-separated list of names or globs (``"pitot baseline/*"``), ``levels`` e.g. ``"0.1 0.5"``
(empty: 0.1 … 0.9), ``replicates`` ``"0-4"`` or ``"0 1 2"``, ``overrides`` a ``key=value``
list applied to every cell, ``model`` ``true``/``false`` (log each run's models).
Run it again with the same parameters to resume; cells already done are reused.
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="pitot")
    parser.add_argument("--levels", default="")
    parser.add_argument("--replicates", default="0-4")
    parser.add_argument("--overrides", default="")
    parser.add_argument("--experiment", default="")
    parser.add_argument("--workers", default="1")
    parser.add_argument("--storage", default="")
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--splits-dir", default="")
    parser.add_argument("--model", default="true")
    return parser.parse_args(argv)


def flag(text: str, name: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no) → bool; anything else is a ConfigError."""
    from pitot_tf.errors import ConfigError

    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ConfigError(f"parameter {name} must be true or false, got '{text}'")


def sweep(args: argparse.Namespace) -> None:
    from pitot_tf.config import parse_overrides
    from pitot_tf.errors import PitotError
    from pitot_tf.sweep.runner import run_sweep
    from pitot_tf.tracking.experiments import adopt_project_run
    from pitot_tf.tracking.params import integer, optional, split_overrides, words

    adopt_project_run(optional(args.experiment) or "sweep")

    result = run_sweep(
        words(args.presets), words(args.levels) or None, words(args.replicates) or None,
        parse_overrides(split_overrides(args.overrides)), data_dir=optional(args.data_dir),
        splits_dir=optional(args.splits_dir), experiment=optional(args.experiment),
        workers=integer(args.workers, "workers"),
        log_model=flag(args.model, "model"), progress=False)
    print(f"sweep {result.sweep_id}: {result.done}/{result.cells} cells done; trained "
          f"{result.trained}, reused {result.reused}; parent run {result.parent_run_id}")
    if result.failed:
        cell, error = next(iter(result.failed.items()))
        raise PitotError(f"{len(result.failed)} cell(s) failed, first {cell}: {error}")


def main(argv: list[str] | None = None) -> int:
    from pitot_tf.tracking.entry import run_main

    args = parse_args(argv)
    return run_main(lambda: sweep(args), vars(args))


if __name__ == "__main__":
    sys.exit(main())
