"""What retraining buys one new workload: ``pitot/cold`` retrained from scratch with the k
revealed runs of that workload alone added (as a user with one new workload would), against
folding the same runs in, and against ``few_shot.py``'s retraining, which adds the k runs of
every held-out workload at once.

    python benchmarks/retrain_one.py [--data-dir DIR] [--draw 0] [--k 10] [--seed 0]
        [--workloads 5] [--preset pitot/cold] [--cache DIR]

The draw, the reveals (k runs alone of every held-out workload, test and validation, at
random) and the fold-in (prior calibrated on the validation workloads) are those of
``few_shot.py --from-draw D --draws D+1`` at the same seed and k; ``--workloads`` test
workloads are drawn at random, and each gets one retraining with its own k runs added. Per
workload, MAPE of its other runs (alone, ``mf``, and as the target beside a co-runner,
``if2``) for zero-shot, fold-in, retraining with every held-out workload's runs
(``retrain-all``) and with its own (``retrain-one``); then the mean over the workloads. The
last line is one JSON object (fractions). Models are kept in ``--cache``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import add_data_options, emit
from few_shot import Draw, retrained
from few_shot_models import DEFAULT_CACHE, model_path, trained_model

from pitot_tf.conformal.few_shot import ISOLATED, fold_in_revealed, predict_rows, reveal
from pitot_tf.data.cold import make_cold_split
from pitot_tf.data.dataset import Dataset
from pitot_tf.models.fold_in_tables import with_tuned_prior
from pitot_tf.models.numpy_export import numpy_pitot
from pitot_tf.models.numpy_predictor import NumpyPitot

METHODS = ("zero-shot", "fold-in", "retrain-all", "retrain-one")


def workload_mape(draw: Draw, pitot: NumpyPitot, rows: dict[str, np.ndarray],
                  workload: int) -> dict[str, float]:
    """Per objective, MAPE of ``pitot`` on ``rows`` whose target workload is ``workload``."""
    out = {}
    for name, part in rows.items():
        obs = draw.dataset.objectives[name]
        own = part[obs.workload[part] == workload]
        pred = draw.clipped(name, own, predict_rows(pitot, obs, own))[:, 0]
        out[name] = float(np.mean(np.abs(np.expm1(obs.log_runtime[own] - pred))))
    return out


def prepared(dataset: Dataset, args: argparse.Namespace) -> tuple[Draw, np.ndarray]:
    """The draw with ``few_shot.py``'s fold-in prior, and its revealed rows."""
    split = make_cold_split(dataset, 1.0, args.draw, mode="cold-workload", holdout=0.2)
    model = trained_model(model_path(args.cache, args.preset, args.mode, args.draw, None),
                          args.preset, dataset, split, None)
    pitot = numpy_pitot(model)
    assert pitot is not None
    iso, val = dataset.objectives[ISOLATED], split.rows(ISOLATED, "val")
    pitot = with_tuned_prior(pitot, "workload", iso.workload[val], iso.platform[val],
                             iso.log_runtime[val])
    rng = np.random.default_rng([args.draw, args.seed, args.k])
    revealed = np.concatenate([
        reveal(iso, rows, "workload", dict.fromkeys(np.unique(iso.workload[rows]).tolist(),
                                                    args.k), rng)
        for rows in (split.rows(ISOLATED, "val"), split.rows(ISOLATED, "test"))])
    return Draw(dataset, split, pitot, "workload", True), revealed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_data_options(parser, overrides=False)
    parser.add_argument("--draw", type=int, default=0)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workloads", type=int, default=5)
    parser.add_argument("--preset", default="pitot/cold")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    args.mode, args.steps = "cold-workload", None
    from pitot_tf.data.dataset import load_dataset

    dataset = load_dataset(args.data_dir)
    draw, revealed = prepared(dataset, args)
    iso = dataset.objectives[ISOLATED]
    val, test = draw.kept("val", revealed), draw.kept("test", revealed)
    models = {"zero-shot": draw.pitot,
              "fold-in": fold_in_revealed(draw.pitot, iso, revealed, "workload"),
              "retrain-all": retrained(draw, revealed, val, test, args,
                                       f"-retrain-k{args.k}-seed{args.seed}")}
    choice = np.random.default_rng([args.draw, args.seed, args.k, 1])
    chosen = choice.permutation(np.unique(iso.workload[test[ISOLATED]]))[: args.workloads]
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for workload in chosen.tolist():
        own = revealed[iso.workload[revealed] == workload]
        models["retrain-one"] = retrained(
            draw, own, val, test, args, f"-retrain-one-w{workload}-k{args.k}-seed{args.seed}")
        name = str(dataset.workloads.names[workload])
        scores[name] = {m: workload_mape(draw, models[m], test, workload) for m in METHODS}
        print(f"{name}: " + "; ".join(f"{m} {s[ISOLATED]:.1%}"
                                      for m, s in scores[name].items()), flush=True)
    objectives = list(test)
    mean = {m: {o: float(np.mean([s[m][o] for s in scores.values()])) for o in objectives}
            for m in METHODS}
    print("| method | " + " | ".join(f"{o} MAPE" for o in objectives) + " |")
    print("|---" * (1 + len(objectives)) + "|")
    for m in METHODS:
        print(f"| {m} | " + " | ".join(f"{mean[m][o]:.1%}" for o in objectives) + " |")
    emit({"draw": args.draw, "k": args.k, "seed": args.seed, "mean": mean, "workloads": scores})


if __name__ == "__main__":
    main()
