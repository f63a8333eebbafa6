"""Convergence: does training reach what the data allows? On synthetic data whose noise-free
truth is known, each check trains for a thousand steps or more and compares the test error
with the observation noise (the floor no model can beat).

    python benchmarks/convergence.py [--checks noise-floor cold-workload cold-both]
        [--workdir DIR] [--steps N (fewer steps: only to try the script)]

* ``noise-floor``: ``pitot`` on a 60 × 80 dataset with 5% noise, level 0.8, 3,000 steps:
  test MAPE of each objective under 2.5 × the floor ``0.05 · sqrt(2/π)`` (the mean of
  ``|exp(e) - 1|`` ≈ ``E|e|`` for ``e ~ N(0, 0.05²)``).
* ``cold-workload``: workloads never measured (``make_cold_split(mode="cold-workload")``),
  ``pitot`` and ``pitot/cold`` for 1,500 steps: with features that mostly determine the
  truth, ``pitot/cold`` within 5 × the floor (the MAPE of the noise-free truth itself;
  measured 0.166 against 0.039, as the synthetic parameters have per-workload residuals no
  feature explains) and at least as good as ``pitot`` (within 2%; measured 0.172).
* ``cold-both``: a workload never measured on a platform never measured (``cold-both``),
  one member each: ``pitot/cold`` within 5 × the floor (measured 0.174 against 0.044) and
  within 5% of ``pitot`` (0.171), over at least 50 such test rows.

These were tests; they moved here because each takes minutes, and what they check (that
training converges) is a property to measure after a change to the model or the trainer, not
an invariant of every commit. Prints one line per check; the last line is one JSON object
``{check: {scores..., "passed": bool, "wall_s": seconds}}``. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import emit, stopwatch, work_folder

#: Settings of the cold-start checks: a small network, many steps.
COLD_STEPS = {"training.steps": 1500, "training.val_every": 100, "training.batch": 128,
              "training.progress": False, "training.learning_rate": 3e-3,
              "model.layers": [64, 64], "model.mf_dim": 8}


def _mape(log_true: np.ndarray, log_pred: np.ndarray) -> float:
    """Mean ``|t/t̂ - 1|``."""
    return float(np.mean(np.abs(np.expm1(log_true - log_pred))))


def noise_floor(folder: Path, steps: int | None = None) -> dict[str, Any]:
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.data.splits import make_split
    from pitot_tf.data.synth import synthesize_dataset
    from pitot_tf.presets import resolve
    from pitot_tf.training import train
    from pitot_tf.training.predict import predict_objective

    dataset = load_dataset(synthesize_dataset(folder / "noise-floor", platforms=60, workloads=80,
                                              noise=0.05, seed=3))
    split = make_split(dataset, 0.8)
    config = resolve("pitot", {"training.steps": steps or 3000, "training.val_every": 500,
                               "training.batch": 256, "training.progress": False,
                               "training.learning_rate": 3e-3})
    model = train(config, dataset, split).model
    floor = 0.05 * np.sqrt(2 / np.pi)
    scores: dict[str, Any] = {"floor": floor}
    for objective in ("mf", "if2"):
        log_true, log_pred = predict_objective(model, dataset, objective,
                                               split.rows(objective, "test"))
        scores[objective] = _mape(log_true, log_pred[:, 0])
    scores["passed"] = all(scores[o] < 2.5 * floor for o in ("mf", "if2"))
    return scores


def _cold_scores(folder: Path, mode: str, platforms: int, extra: dict[str, Any],
                 steps: int | None) -> dict[str, Any]:
    """MAPE of ``pitot`` and ``pitot/cold`` on the cold test rows of ``mode`` (for
    ``cold-both``, the rows with both entities cold) and the floor, the noise's own MAPE."""
    from pitot_tf.conformal.groups import COLD_BOTH, cold_kinds
    from pitot_tf.data.cold import make_cold_split, seen_entities
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.data.synth import synthesize_dataset
    from pitot_tf.presets import resolve
    from pitot_tf.training import train
    from pitot_tf.training.predict import predict_objective

    out = synthesize_dataset(folder / mode, platforms=platforms, workloads=60, seed=3)
    dataset = load_dataset(out)
    split = make_cold_split(dataset, 1.0, mode=mode, seed=1)
    rows = split.rows("mf", "test")
    if mode == "cold-both":
        rows = rows[cold_kinds(dataset.objectives["mf"], rows,
                               seen_entities(dataset, split)) == COLD_BOTH]
    truth = np.load(out / "truth.npz")["mf_log_t"][rows]
    log_t = dataset.objectives["mf"].log_runtime[rows]
    scores: dict[str, Any] = {"rows": len(rows), "floor": _mape(log_t, truth)}
    for preset in ("pitot", "pitot/cold"):
        overrides = {**COLD_STEPS, **extra, **({"training.steps": steps} if steps else {})}
        model = train(resolve(preset, overrides), dataset, split).model
        _, log_pred = predict_objective(model, dataset, "mf", rows)
        scores[preset] = _mape(log_t, log_pred[:, 0])
    return scores


def cold_workload(folder: Path, steps: int | None = None) -> dict[str, Any]:
    scores = _cold_scores(folder, "cold-workload", 24, {}, steps)
    scores["passed"] = (scores["pitot/cold"] < 5 * scores["floor"]
                        and scores["pitot/cold"] < 1.02 * scores["pitot"])
    return scores


def cold_both(folder: Path, steps: int | None = None) -> dict[str, Any]:
    scores = _cold_scores(folder, "cold-both", 60, {"training.ensemble": 1}, steps)
    scores["passed"] = (scores["rows"] >= 50 and scores["pitot/cold"] < 5 * scores["floor"]
                        and scores["pitot/cold"] < 1.05 * scores["pitot"])
    return scores


CHECKS: dict[str, Callable[[Path, int | None], dict[str, Any]]] = {
    "noise-floor": noise_floor, "cold-workload": cold_workload, "cold-both": cold_both}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", nargs="+", choices=list(CHECKS), default=list(CHECKS))
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the synthetic datasets (default: a new one)")
    parser.add_argument("--steps", type=int, default=None,
                        help="train every run this many steps (to try the script; the "
                             "checks need their own)")
    args = parser.parse_args()
    folder = work_folder(args.workdir, "pitot-convergence-")
    report: dict[str, dict[str, Any]] = {}
    for name in args.checks:
        with stopwatch() as timing:
            scores = CHECKS[name](folder, args.steps)
        report[name] = {**scores, "wall_s": round(timing.wall_s, 1)}
        print(f"{name}: {'passed' if scores['passed'] else 'FAILED'} {report[name]}", flush=True)
    emit(report)
    return 0 if all(r["passed"] for r in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
