"""Does normalising the conformal score by the ensemble members' spread tighten the bound?

    python benchmarks/ensemble_spread.py [--members 5] [--steps 20000] [--level 0.5]
        [--replicate 0] [--alpha 0.05] [--data-dir DIR] [--set KEY=VALUE ...]

Trains ``training.ensemble=E``, then per objective compares, on the test rows, two split
conformal bounds calibrated on the validation rows: the plain one (``mean + q`` with ``q`` the
conformal quantile of ``log t - mean``, what runs use) and a normalised one (``mean + q' s``
with ``s`` the members' standard deviation of log runtime and ``q'`` the conformal quantile of
``(log t - mean) / s``). Both cover ``1 - α`` by construction; the question is the width.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import add_data_options, emit, experiment, overrides_of, train_run

from pitot_tf.conformal.calibration import conformal_rank
from pitot_tf.conformal.metrics import bound_width, coverage
from pitot_tf.models.ensemble import member_models
from pitot_tf.training.predict import objective_rows, predict_rows


def quantile(scores: np.ndarray, alpha: float) -> float:
    """The split-conformal quantile: the ``ceil((1 - α)(n + 1))``-th smallest score."""
    return float(np.sort(scores)[conformal_rank(alpha, len(scores)) - 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--level", type=float, default=0.5)
    parser.add_argument("--replicate", type=int, default=0)
    parser.add_argument("--alpha", type=float, default=0.05)
    add_data_options(parser, steps=20_000)
    args = parser.parse_args()
    run = experiment("pitot", overrides_of(args, {"training.ensemble": args.members}),
                     args.level, args.replicate, args.data_dir, steps=args.steps)
    result, _ = train_run(run)
    members = member_models(result.model)
    summary: dict[str, dict[str, float]] = {}
    for objective in run.split.objectives():
        parts = {}
        for part in ("val", "test"):
            rows = objective_rows(run.dataset, objective, run.split.rows(objective, part))
            each = np.stack([predict_rows(m, rows)[:, 0] for m in members]).astype(np.float64)
            parts[part] = (rows.log_runtime.astype(np.float64), each.mean(0), each.std(0) + 1e-6)
        (vt, vm, vs), (tt, tm, ts) = parts["val"], parts["test"]
        plain = tm + quantile(vt - vm, args.alpha)
        normalised = tm + quantile((vt - vm) / vs, args.alpha) * ts
        summary[objective] = {
            "plain_width": float(bound_width(tt, plain)),
            "plain_coverage": float(coverage(tt, plain)),
            "normalised_width": float(bound_width(tt, normalised)),
            "normalised_coverage": float(coverage(tt, normalised)),
        }
        print(objective, summary[objective], flush=True)
    emit(summary)


if __name__ == "__main__":
    main()
