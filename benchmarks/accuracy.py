"""Test MAPE of a preset over levels and replicates, on the real data by default.

    python benchmarks/accuracy.py --preset pitot --levels 0.1 0.5 0.9 --replicates 0 1 2 3 4 \
        [--splits DIR] [--data-dir DIR] [--steps N] [--set KEY=VALUE ...] [--bounds]

``--splits`` reads split files (ours or the reference implementation's, same layout).
``--set`` adds config overrides (e.g. ``training.ensemble=5``). ``--bounds`` also calibrates
the conformal bounds on the validation split (as a run does) and reports each objective's
test width and coverage at α = 0.05. Every run prints one line with its scores and training
wall time. The last line is one JSON object ``{"<level>": {"<objective>": mean MAPE as a
fraction, ...}}`` (with ``--bounds`` also ``<objective>_width_0.05`` and
``<objective>_coverage_0.05``, and always ``wall_s``, the mean training wall time), MAPE being
the mean of |exp(log t - log t̂) - 1| over test rows.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import (
    ALPHA,
    add_data_options,
    bound_metrics,
    emit,
    experiment,
    mape_scores,
    overrides_of,
)

from pitot_tf.training import train


def run_scores(
    preset: str, level: float, replicate: int, args: argparse.Namespace
) -> dict[str, float]:
    """Test MAPE per objective (and bound width/coverage with ``--bounds``) of one run, and
    its training wall time ``wall_s``."""
    run = experiment(preset, overrides_of(args), level, replicate, args.data_dir, args.splits,
                     args.steps)
    result = train(run.config, run.dataset, run.split)
    scores = mape_scores(result.model, run)
    if args.bounds:
        found = bound_metrics(result.model, run, [ALPHA])
        for objective in run.split.objectives():
            for what in ("width", "coverage"):
                key = f"test_{objective}_{what}_{ALPHA:g}"
                if key in found:
                    scores[f"{objective}_{what}_{ALPHA:g}"] = found[key]
    scores["wall_s"] = result.wall_s
    return scores


def _text(key: str, value: float) -> str:
    return f"{key} {value:.1f}" if key == "wall_s" else f"{key} {value:.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="pitot")
    parser.add_argument("--levels", type=float, nargs="+", default=[0.5])
    parser.add_argument("--replicates", type=int, nargs="+", default=[0])
    add_data_options(parser, splits=True)
    parser.add_argument("--bounds", action="store_true")
    args = parser.parse_args()
    summary: dict[str, dict[str, float]] = {}
    for level in args.levels:
        runs = []
        for replicate in args.replicates:
            scores = run_scores(args.preset, level, replicate, args)
            runs.append(scores)
            print(
                f"{args.preset} level {level:g} replicate {replicate}: "
                + ", ".join(_text(k, v) for k, v in scores.items()),
                flush=True,
            )
        summary[f"{level:g}"] = {k: float(np.mean([run[k] for run in runs])) for k in runs[0]}
    emit(summary)


if __name__ == "__main__":
    main()
