"""Test MAPE of a preset over levels and replicates, on the real data by default.

    python benchmarks/accuracy.py --preset pitot --levels 0.1 0.5 0.9 --replicates 0 1 2 3 4 \
        [--splits DIR] [--data-dir DIR] [--steps N]

``--splits`` reads split files (ours or the reference implementation's, same layout). The last
line is one JSON object ``{"<level>": {"<objective>": mean MAPE as a fraction}}``, MAPE being the
mean of |exp(log t - log t̂) - 1| over test rows.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from pitot_tf.training import train
from pitot_tf.training.experiment import prepare
from pitot_tf.training.predict import predict_objective


def test_mape(
    preset: str, level: float, replicate: int, args: argparse.Namespace
) -> dict[str, float]:
    experiment = prepare(
        preset,
        {"training.progress": False},
        level,
        replicate,
        args.data_dir,
        args.splits,
        args.steps,
    )
    result = train(experiment.config, experiment.dataset, experiment.split)
    scores = {}
    for objective in experiment.split.objectives():
        rows = experiment.split.rows(objective, "test")
        log_true, log_pred = predict_objective(result.model, experiment.dataset, objective, rows)
        scores[objective] = float(np.mean(np.abs(np.exp(log_true - log_pred[:, 0]) - 1)))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="pitot")
    parser.add_argument("--levels", type=float, nargs="+", default=[0.5])
    parser.add_argument("--replicates", type=int, nargs="+", default=[0])
    parser.add_argument("--splits", default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args()
    summary: dict[str, dict[str, float]] = {}
    for level in args.levels:
        runs = [test_mape(args.preset, level, r, args) for r in args.replicates]
        summary[f"{level:g}"] = {k: float(np.mean([run[k] for run in runs])) for k in runs[0]}
        for replicate, run in zip(args.replicates, runs, strict=True):
            print(
                f"{args.preset} level {level:g} replicate {replicate}: "
                + ", ".join(f"{k} {v:.2%}" for k, v in run.items()),
                flush=True,
            )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
