"""Cold-workload accuracy: Pitot against gradient-boosted trees, both with split-conformal bounds.

    python benchmarks/cold_start.py [--data-dir DIR] [--holdout 0.2] [--steps N] [--replicates 0 1]

20% of workloads are held out entirely (their rows are test) and another 20% calibrate the
bounds, so the conformal guarantee applies to workloads never measured. The practitioner's
alternative is scikit-learn's HistGradientBoostingRegressor on the concatenated side features
(platform, workload, and the summed features of co-runners) predicting log runtime. The last
line is one JSON object ``{"pitot"|"gbt": {"<objective>": {"mape", "width_0.05",
"coverage_0.05"}}}`` averaged over replicates.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from pitot_tf.conformal import ConformalUpperBound
from pitot_tf.conformal.metrics import bound_width, coverage, mape
from pitot_tf.data.cold import make_cold_split
from pitot_tf.data.dataset import Dataset, Objective, load_dataset
from pitot_tf.data.splits import Split
from pitot_tf.presets import resolve
from pitot_tf.training import train
from pitot_tf.training.predict import predict_objective

ALPHA = 0.05


def side_features(dataset: Dataset, obs: Objective) -> np.ndarray:
    """[platform features ‖ workload features ‖ sum of co-runners' features] per row."""
    workloads = dataset.workloads.features
    corunners = workloads[obs.interferers].sum(axis=1)  # zeros when there are no co-runners
    return np.hstack([dataset.platforms.features[obs.platform], workloads[obs.workload], corunners])


def gbt_predictions(dataset: Dataset, split: Split, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Fit one regressor on all objectives' train rows; predict val and test log runtime."""
    parts: dict[str, dict[str, np.ndarray]] = {}
    x_train, y_train = [], []
    for name in split.objectives():
        obs = dataset.objectives[name].take(split.rows(name, "train"))
        x_train.append(side_features(dataset, obs))
        y_train.append(obs.log_runtime)
    model = HistGradientBoostingRegressor(max_iter=500, learning_rate=0.1, random_state=seed)
    model.fit(np.vstack(x_train), np.concatenate(y_train))
    for name in split.objectives():
        for part in ("val", "test"):
            obs = dataset.objectives[name].take(split.rows(name, part))
            parts.setdefault(name, {})[f"{part}_true"] = obs.log_runtime
            parts[name][f"{part}_pred"] = model.predict(side_features(dataset, obs))[:, None]
    return parts


def pitot_predictions(
    dataset: Dataset, split: Split, steps: int | None
) -> dict[str, dict[str, np.ndarray]]:
    overrides: dict[str, object] = {"training.progress": False}
    if steps:
        overrides["training.steps"] = steps
    model = train(resolve("pitot", overrides), dataset, split).model
    parts: dict[str, dict[str, np.ndarray]] = {}
    for name in split.objectives():
        for part in ("val", "test"):
            true, pred = predict_objective(model, dataset, name, split.rows(name, part))
            parts.setdefault(name, {})[f"{part}_true"], parts[name][f"{part}_pred"] = true, pred
    return parts


def score(parts: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, float]]:
    scores = {}
    for name, p in parts.items():
        bound = ConformalUpperBound(alphas=(ALPHA,)).fit(p["val_true"], p["val_pred"])
        upper = bound.upper_bound(p["test_pred"], alpha=ALPHA)
        scores[name] = {
            "mape": mape(p["test_true"], p["test_pred"]),
            f"width_{ALPHA}": bound_width(p["test_true"], upper),
            f"coverage_{ALPHA}": coverage(p["test_true"], upper),
        }
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--replicates", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    dataset = load_dataset(args.data_dir)
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"pitot": [], "gbt": []}
    for replicate in args.replicates:
        split = make_cold_split(dataset, 1.0, replicate, mode="cold-workload", holdout=args.holdout)
        runs["gbt"].append(score(gbt_predictions(dataset, split, replicate)))
        runs["pitot"].append(score(pitot_predictions(dataset, split, args.steps)))
        for method, results in runs.items():
            print(
                f"replicate {replicate} {method}: "
                + "; ".join(
                    f"{obj} " + ", ".join(f"{k} {v:.2%}" for k, v in m.items())
                    for obj, m in results[-1].items()
                ),
                flush=True,
            )
    summary = {
        method: {
            obj: {k: float(np.mean([r[obj][k] for r in results])) for k in results[0][obj]}
            for obj in results[0]
        }
        for method, results in runs.items()
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
