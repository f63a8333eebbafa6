"""Cold start: Pitot (``pitot``, ``pitot/cold``) against gradient-boosted trees on entities
never measured, with split-conformal bounds.

    python benchmarks/cold_start.py [--data-dir DIR] [--mode cold-workload|cold-platform|cold-both]
        [--holdout 0.2] [--draws 5] [--steps N] [--methods pitot/cold pitot gbt] [--warm]
        [--cache DIR] [--no-clip]

Per draw ``d`` (``make_cold_split(..., replicate=d)``) a ``holdout`` share of the workloads
(platforms) is held out entirely (test) and another share calibrates the bounds (val), so the
conformal guarantee applies to entities never measured (``cold-both``: workloads and
platforms both, see :mod:`pitot_tf.data.cold`). The trees are scikit-learn's
HistGradientBoostingRegressor on the concatenated side features (platform, workload, and the
summed features of co-runners) predicting log runtime. Pitot's predictions of cold rows are
clipped to the range of training log runtimes of the entity they share with training rows
(:class:`pitot_tf.models.cold.RuntimeRange`; the global range when they share none;
``--no-clip`` turns it off), and bounds are Mondrian over row kinds
(:func:`pitot_tf.conformal.groups.cold_kinds`: cold workload, cold platform, both, warm; a
single-axis split has one kind, a ``cold-both`` split three, each calibrated on its own
held-out rows).

Reported per method and objective, averaged over draws: MAPE (mean, and median, p90, p99 of
the per-row error ``|t/t̂ - 1|`` whose mean MAPE is), width and coverage at α = 0.05;
for ``cold-both`` also the same per row kind (a second table).
``--warm`` adds the same table for warm rows: each Pitot preset on the ordinary random split
(level 0.5, replicate 0), calibrated on its validation rows. Predictions are cached in
``--cache`` (one file per method, draw and step count), so a rerun only rescores. The last
line is the summary as one JSON object.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import ALPHA, QUIET, add_data_options, emit, overrides_of
from sklearn.ensemble import HistGradientBoostingRegressor

from pitot_tf.conformal import ConformalUpperBound
from pitot_tf.conformal.groups import COLD, COLD_KINDS, cold_kinds, cold_warm_groups
from pitot_tf.conformal.metrics import bound_width, coverage, mape
from pitot_tf.data.cold import COLD_MODES, make_cold_split, seen_entities
from pitot_tf.data.dataset import Dataset, Objective, load_dataset
from pitot_tf.data.splits import Split, make_split
from pitot_tf.models.cold import RuntimeRange
from pitot_tf.presets import resolve
from pitot_tf.training import train
from pitot_tf.training.predict import predict_objective

Parts = dict[str, dict[str, np.ndarray]]


def side_features(dataset: Dataset, obs: Objective) -> np.ndarray:
    """[platform features ‖ workload features ‖ sum of co-runners' features] per row."""
    workloads = dataset.workloads.features
    corunners = workloads[obs.interferers].sum(axis=1)  # zeros when there are no co-runners
    return np.hstack([dataset.platforms.features[obs.platform], workloads[obs.workload], corunners])


def gbt_predictions(dataset: Dataset, split: Split, seed: int) -> Parts:
    """Fit one regressor on all objectives' train rows; predict val and test log runtime."""
    x_train, y_train = [], []
    for name in split.objectives():
        obs = dataset.objectives[name].take(split.rows(name, "train"))
        x_train.append(side_features(dataset, obs))
        y_train.append(obs.log_runtime)
    model = HistGradientBoostingRegressor(max_iter=500, learning_rate=0.1, random_state=seed)
    model.fit(np.vstack(x_train), np.concatenate(y_train))
    parts: Parts = {}
    for name in split.objectives():
        for part in ("val", "test"):
            obs = dataset.objectives[name].take(split.rows(name, part))
            parts.setdefault(name, {})[f"{part}_true"] = obs.log_runtime
            parts[name][f"{part}_pred"] = model.predict(side_features(dataset, obs))[:, None]
    return parts


def pitot_predictions(dataset: Dataset, split: Split, preset: str, steps: int | None,
                      partitions: tuple[str, ...] = ("val", "test"),
                      extra: dict[str, object] | None = None) -> Parts:
    overrides: dict[str, object] = {**QUIET, **(extra or {})}
    if steps:
        overrides["training.steps"] = steps
    model = train(resolve(preset, overrides), dataset, split).model
    parts: Parts = {}
    for name in split.objectives():
        for part in partitions:
            true, pred = predict_objective(model, dataset, name, split.rows(name, part))
            parts.setdefault(name, {})[f"{part}_true"], parts[name][f"{part}_pred"] = true, pred
    return parts


def cached(path: Path, compute: Callable[[], Parts]) -> Parts:
    """``compute()``'s parts, stored in (and read back from) ``path``."""
    if path.exists():
        with np.load(path) as stored:
            parts: Parts = {}
            for key in stored.files:
                name, _, field = key.partition("/")
                parts.setdefault(name, {})[field] = stored[key]
            return parts
    parts = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f"{n}/{f}": v for n, p in parts.items() for f, v in p.items()})
    return parts


def clip_cold(dataset: Dataset, split: Split, parts: Parts) -> Parts:
    """Pitot's val and test predictions of cold rows clipped to the training range of log
    runtime (:class:`RuntimeRange`) of the platform, then of the workload, in the same
    objective: a cold workload gets its platform's range, a cold platform its workload's, and
    a row with both cold the global range (an entity without training rows has it)."""
    seen = seen_entities(dataset, split)
    clipped: Parts = {}
    for name, p in parts.items():
        obs = dataset.objectives[name]
        train_rows = split.rows(name, "train")
        spans = {axis: RuntimeRange.fit(obs.log_runtime[train_rows], getattr(obs, axis)[train_rows],
                                        len(dataset.platforms if axis == "platform"
                                            else dataset.workloads))
                 for axis in ("platform", "workload")}
        clipped[name] = dict(p)
        for part in ("val", "test"):
            rows = split.rows(name, part)
            cold = cold_warm_groups(obs, rows, seen) == COLD
            pred = p[f"{part}_pred"]
            for axis, span in spans.items():
                pred = span.clip(pred, getattr(obs, axis)[rows], cold)
            clipped[name][f"{part}_pred"] = pred
    return clipped


def score(dataset: Dataset, split: Split, parts: Parts) -> dict[str, dict[str, float]]:
    """Per objective: MAPE and its distribution, width and coverage of the Mondrian bound
    over row kinds (:func:`cold_kinds`: a row's margin from calibration rows of its kind).
    Where the test rows have more than one kind (``cold-both``), also per kind, under
    ``"<objective>/<kind>"``."""
    seen = seen_entities(dataset, split)
    scores = {}
    for name, p in parts.items():
        obs = dataset.objectives[name]
        kinds = {part: cold_kinds(obs, split.rows(name, part), seen) for part in ("val", "test")}
        counts = np.unique(kinds["val"], return_counts=True)[1]
        mondrian = bool(counts.min() >= 1 / ALPHA)  # else a group too small: pooled margins
        bound = ConformalUpperBound(alphas=(ALPHA,), mondrian=mondrian)
        bound.fit(p["val_true"], p["val_pred"], kinds["val"])
        upper = bound.upper_bound(p["test_pred"], alpha=ALPHA, groups=kinds["test"])
        scores[name] = metrics(p["test_true"], p["test_pred"], upper)
        present = [k for k in COLD_KINDS if k in set(kinds["test"].tolist())]
        for kind in present if len(present) > 1 else []:
            rows = kinds["test"] == kind
            scores[f"{name}/{kind}"] = metrics(p["test_true"][rows], p["test_pred"][rows],
                                               upper[rows])
    return scores


def metrics(true: np.ndarray, pred: np.ndarray, upper: np.ndarray) -> dict[str, float]:
    """MAPE, the median, p90 and p99 of ``|t/t̂ - 1|``, width and coverage, and the count."""
    error = np.abs(np.expm1(true - pred[:, 0]))
    return {
        "mape": mape(true, pred),
        "median": float(np.median(error)),
        "p90": float(np.quantile(error, 0.9)),
        "p99": float(np.quantile(error, 0.99)),
        f"width_{ALPHA}": float(bound_width(true, upper)),
        f"coverage_{ALPHA}": float(coverage(true, upper)),
        "rows": float(len(true)),
    }


def warm_scores(dataset: Dataset, preset: str, steps: int | None, cache: Path,
                extra: dict[str, object], tag: str) -> dict[str, dict[str, float]]:
    """Test MAPE, width and coverage at α = 0.05 per objective of ``preset`` (with the
    ``--set`` overrides ``extra``, named ``tag`` in the cache) on the random split at level
    0.5, replicate 0 (warm rows: every entity has training rows)."""
    split = make_split(dataset, 0.5, 0)
    path = cache / f"warm-{preset.replace('/', '_')}-s{steps}{tag}.npz"
    parts = cached(path, functools.partial(pitot_predictions, dataset, split, preset, steps,
                                           extra=extra))
    return score(dataset, split, parts)


def mean_scores(results: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each metric's mean over the draws that have its objective (or kind)."""
    keys = list(dict.fromkeys(k for r in results for k in r))
    return {key: {m: float(np.mean([r[key][m] for r in results if key in r]))
                  for m in next(r[key] for r in results if key in r)}
            for key in keys}


def print_table(summary: dict[str, dict[str, dict[str, float]]]) -> None:
    """A markdown table: one row per method, per objective MAPE (p50/p90/p99), width, coverage."""
    objectives = [key for key in next(iter(summary.values())) if "/" not in key]
    print("| method | " + " | ".join(
        f"{o} MAPE | {o} p50 / p90 / p99 | {o} width@{ALPHA} | {o} coverage@{ALPHA}"
        for o in objectives) + " |")
    print("|---" * (1 + 4 * len(objectives)) + "|")
    for method, scores in summary.items():
        cells = []
        for o in objectives:
            s = scores[o]
            cells += [f"{s['mape']:.1%}", f"{s['median']:.1%} / {s['p90']:.1%} / {s['p99']:.0%}",
                      f"{s[f'width_{ALPHA}']:.1%}", f"{s[f'coverage_{ALPHA}']:.1%}"]
        print(f"| {method} | " + " | ".join(cells) + " |")


def print_kind_table(summary: dict[str, dict[str, dict[str, float]]]) -> None:
    """Per objective and row kind (``cold-both`` splits): one markdown row per method."""
    keys = sorted({key for scores in summary.values() for key in scores if "/" in key},
                  key=lambda key: (key.split("/")[0], COLD_KINDS.index(key.split("/")[1])))
    if not keys:
        return
    print(f"| objective / kind | method | test rows | MAPE | p50 / p90 / p99 | width@{ALPHA} "
          f"| coverage@{ALPHA} |")
    print("|---" * 7 + "|")
    for key in keys:
        for method, scores in summary.items():
            if key in scores:
                s = scores[key]
                print(f"| {key} | {method} | {s['rows']:.0f} | {s['mape']:.1%} | "
                      f"{s['median']:.1%} / {s['p90']:.1%} / {s['p99']:.0%} | "
                      f"{s[f'width_{ALPHA}']:.1%} | {s[f'coverage_{ALPHA}']:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_data_options(parser)
    parser.add_argument("--mode", choices=COLD_MODES, default="cold-workload")
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--from-draw", type=int, default=0,
                        help="first draw (another process can run the earlier ones)")
    parser.add_argument("--methods", nargs="+", default=["pitot/cold", "pitot", "gbt"])
    parser.add_argument("--warm", action="store_true")
    parser.add_argument("--no-clip", action="store_true")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/pitot-cold-start"))
    args = parser.parse_args()
    extra = overrides_of(args, quiet=False)  # for the Pitot methods (exploring)
    tag = "".join(f"-{k}={v}" for k, v in sorted(extra.items()))
    dataset = load_dataset(args.data_dir)
    runs: dict[str, list[dict[str, dict[str, float]]]] = {m: [] for m in args.methods}
    for draw in range(args.from_draw, args.draws):
        split = make_cold_split(dataset, 1.0, draw, mode=args.mode, holdout=args.holdout)
        for method in args.methods:
            path = args.cache / (f"{args.mode}-h{args.holdout}-{method.replace('/', '_')}"
                                 f"-d{draw}-s{args.steps}{tag if method != 'gbt' else ''}.npz")
            if method == "gbt":
                parts = cached(path, functools.partial(gbt_predictions, dataset, split, draw))
            else:
                parts = cached(path, functools.partial(
                    pitot_predictions, dataset, split, method, args.steps, extra=extra))
                if not args.no_clip:
                    parts = clip_cold(dataset, split, parts)
            runs[method].append(score(dataset, split, parts))
            print(f"draw {draw} {method}: " + "; ".join(
                f"{obj} " + ", ".join(f"{k} {v:.0f}" if k == "rows" else f"{k} {v:.2%}"
                                      for k, v in m.items())
                for obj, m in runs[method][-1].items()), flush=True)
    summary = {method: mean_scores(results) for method, results in runs.items() if results}
    if summary:
        print_table(summary)
        print_kind_table(summary)
    output: dict[str, object] = {"mode": args.mode, "draws": args.draws, "cold": summary}
    if args.warm:
        output["warm"] = {m: warm_scores(dataset, m, args.steps, args.cache, extra, tag)
                          for m in args.methods if m != "gbt"}
        print("warm rows (random split, level 0.5, replicate 0):")
        print_table(output["warm"])  # type: ignore[arg-type]
    emit(output)


if __name__ == "__main__":
    main()
