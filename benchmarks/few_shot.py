"""Few-shot: what k measured runtimes of a held-out workload (platform) buy, against
retraining, gradient-boosted trees, a per-entity shift and a low-rank fold-in.

    python benchmarks/few_shot.py [--data-dir DIR] [--mode cold-workload|cold-platform]
        [--draws 5] [--from-draw 0] [--ks 0 1 3 5 10] [--seeds 5] [--steps N]
        [--retrain-seeds 0] [--retrain-k 3 10] [--refit-seeds 0] [--refit-k 3 10]
        [--refit-steps 5000] [--gbt-seeds 1] [--gbt-k 0 3 10]
        [--rank 4] [--prior calibrated|trained] [--fold-interference zero-shot|refitted]
        [--cache DIR] [--no-clip] [--jsonl FILE]
        [--from-jsonl FILE...]

Per draw ``d`` the split is ``make_cold_split(..., replicate=d)`` as in ``cold_start.py``
(test and validation entities held out entirely) and ``pitot/cold`` is trained once on it
(kept in ``--cache``, see ``few_shot_models.py``). For each k and seed, k runs without
co-runners of every held-out entity, test and validation alike, are revealed at random (at
most all but one); every method predicts the entities' other rows (every objective), and its
bound at α = 0.05 is calibrated on the validation entities' remaining rows:

* ``fold-in``: the entities' rows refitted to their k runs with the rest of the model frozen
  (:mod:`pitot_tf.models.fold_in`), the prior calibrated on the validation entities' fully
  fitted rows and its size tuned on them (``--prior trained``: the trained rows' deviations,
  rescaled; :func:`pitot_tf.models.fold_in_tables.with_tuned_prior`); bounds Mondrian by k
  (:mod:`pitot_tf.conformal.few_shot`: calibrated once per draw by simulating fold-in on the
  validation entities for every group of k, not at the k tested); a workload's interference
  with co-runners stays as the model gave it (``--fold-interference refitted``: moved with
  its refitted embedding);
* ``shift``: zero-shot plus the mean log residual of the entity's k runs;
* ``lowrank``: zero-shot plus a ridge fit of the k residuals on the other axis' rank-``rank``
  factors from the training matrix (SVD of the training entities' row-centred log runtimes);
* ``gbt`` (``--gbt-seeds`` seeds, k in ``--gbt-k``): the trees of ``cold_start.py`` refitted
  on the training rows plus the revealed ones;
* ``retrain`` (``--retrain-seeds`` seeds, k in ``--retrain-k``; each a full ``pitot/cold``
  training): the model retrained from scratch with the revealed rows added to training;
* ``refit`` (``--refit-seeds`` seeds, k in ``--refit-k``): the trained model trained on for
  ``--refit-steps`` more steps (its weights as the start, the preset's schedule) with the
  revealed rows added.

Pitot's predictions (all but gbt) are clipped to the training range of log runtime of the
entity they share with training rows, as ``cold_start.py`` does (``--no-clip``: off).
Reported per method, k and objective, averaged over seeds and draws: MAPE, coverage and width
at α = 0.05 on the remaining test rows; and the time of one fold-in. The last line is one
JSON object (fractions): ``{"k": {"0": {"mf": {...}, "if2": {...}}, ...}, "shift": ...}``,
``"k"`` holding the fold-in.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from common import ALPHA, QUIET, add_data_options, emit, read_jsonl
from few_shot_models import DEFAULT_CACHE, model_path, trained_model

from pitot_tf.conformal import ConformalUpperBound
from pitot_tf.conformal.few_shot import (
    ISOLATED,
    calibration_residuals,
    fold_in_revealed,
    k_group,
    predict_rows,
    reveal,
)
from pitot_tf.conformal.metrics import bound_width, coverage, mape
from pitot_tf.data.cold import AXES, make_cold_split
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import Split
from pitot_tf.models.cold import RuntimeRange
from pitot_tf.models.fold_in import Entity, Measurements
from pitot_tf.models.fold_in_tables import PRIOR_SOURCES, with_tuned_prior
from pitot_tf.models.numpy_export import numpy_pitot
from pitot_tf.models.numpy_predictor import FOLD_INTERFERENCE, NumpyPitot

Rows = dict[str, np.ndarray]  # objective -> row indices
Preds = dict[str, np.ndarray]  # objective -> (n, heads) log runtime of those rows
Scores = dict[str, dict[str, float]]  # objective -> metric -> value


class Draw:
    """One draw's data, split, zero-shot tables and clipping ranges."""

    def __init__(self, dataset: Dataset, split: Split, pitot: NumpyPitot, axis: str,
                 clip: bool) -> None:
        self.dataset, self.split, self.pitot, self.axis = dataset, split, pitot, axis
        self.other = "platform" if axis == "workload" else "workload"
        self.ranges = {name: {a: RuntimeRange.fit(
            obs.log_runtime[split.rows(name, "train")], getattr(obs, a)[split.rows(name, "train")],
            len(dataset.platforms if a == "platform" else dataset.workloads))
            for a in ("platform", "workload")} for name, obs in dataset.objectives.items()}
        self.clip = clip

    def clipped(self, name: str, rows: np.ndarray, pred: np.ndarray) -> np.ndarray:
        if not self.clip:
            return pred
        obs = self.dataset.objectives[name]
        for a, span in self.ranges[name].items():
            pred = span.clip(pred, getattr(obs, a)[rows])
        return pred

    def predict(self, pitot: NumpyPitot, rows: Rows) -> Preds:
        return {name: self.clipped(name, part, predict_rows(pitot, self.dataset.objectives[name],
                                                            part))
                for name, part in rows.items()}

    def kept(self, part: str, revealed: np.ndarray) -> Rows:
        """The rows of ``part`` per objective less the revealed ones."""
        return {name: rows[~np.isin(rows, revealed)] if name == ISOLATED else rows
                for name in self.split.objectives()
                for rows in [self.split.rows(name, part)]}

    def residuals(self, revealed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Entity, other-axis index and zero-shot log residual of each revealed row."""
        obs = self.dataset.objectives[ISOLATED]
        pred = self.clipped(ISOLATED, revealed, predict_rows(self.pitot, obs, revealed))[:, 0]
        return (getattr(obs, self.axis)[revealed], getattr(obs, self.other)[revealed],
                obs.log_runtime[revealed] - pred)


def metrics(true: np.ndarray, pred: np.ndarray, upper: np.ndarray) -> dict[str, float]:
    return {"mape": mape(true, pred), f"coverage_{ALPHA}": float(coverage(true, upper)),
            f"width_{ALPHA}": float(bound_width(true, upper)), "rows": float(len(true))}


def scored(draw: Draw, val: Rows, test: Rows, val_pred: Preds, test_pred: Preds,
           bound_of: Callable[[str], ConformalUpperBound] | None = None,
           groups: str | None = None) -> Scores:
    """Per objective, test metrics with a bound calibrated on ``val`` (or ``bound_of(name)``,
    Mondrian by the group ``groups``)."""
    out = {}
    for name in test:
        obs = draw.dataset.objectives[name]
        if bound_of is None:
            bound = ConformalUpperBound(alphas=(ALPHA,)).fit(obs.log_runtime[val[name]],
                                                             val_pred[name])
            upper = bound.upper_bound(test_pred[name], alpha=ALPHA)
        else:
            labels = np.full(len(test[name]), groups)
            upper = bound_of(name).upper_bound(test_pred[name], alpha=ALPHA, groups=labels)
        out[name] = metrics(obs.log_runtime[test[name]], test_pred[name], upper)
    return out


def add_shift(draw: Draw, rows: Rows, pred: Preds, shift: Callable[[np.ndarray, np.ndarray],
                                                                   np.ndarray]) -> Preds:
    """``pred`` plus ``shift(entity, other)`` on each row (of the row's target entity)."""
    out = {}
    for name, part in rows.items():
        obs = draw.dataset.objectives[name]
        delta = shift(getattr(obs, draw.axis)[part], getattr(obs, draw.other)[part])
        out[name] = draw.clipped(name, part, pred[name] + delta[:, None])
    return out


def mean_shift(draw: Draw, revealed: np.ndarray) -> Callable[[np.ndarray, np.ndarray],
                                                              np.ndarray]:
    entity, _, residual = draw.residuals(revealed)
    size = len(draw.dataset.workloads if draw.axis == "workload" else draw.dataset.platforms)
    total = np.bincount(entity, residual, minlength=size)
    count = np.maximum(np.bincount(entity, minlength=size), 1)
    means = total / count
    return lambda e, _o: means[e]


def factors(draw: Draw, rank: int) -> tuple[np.ndarray, float]:
    """The other axis' rank-``rank`` factors ``(size, rank)`` from the training matrix (rows:
    training entities, row-centred; missing cells 0), scaled so that an entity's coefficients
    have unit variance, and the noise variance of the rank-``rank`` reconstruction."""
    obs = draw.dataset.objectives[ISOLATED]
    train = draw.split.rows(ISOLATED, "train")
    entity, other = getattr(obs, draw.axis)[train], getattr(obs, draw.other)[train]
    n_rows = len(draw.dataset.workloads if draw.axis == "workload" else draw.dataset.platforms)
    n_cols = len(draw.dataset.platforms if draw.axis == "workload" else draw.dataset.workloads)
    matrix = np.zeros((n_rows, n_cols))
    means = np.bincount(entity, obs.log_runtime[train], n_rows) / np.maximum(
        np.bincount(entity, minlength=n_rows), 1)
    matrix[entity, other] = obs.log_runtime[train] - means[entity]
    used = np.unique(entity)
    u, s, vt = np.linalg.svd(matrix[used], full_matrices=False)
    basis = vt[:rank].T * s[:rank] / np.sqrt(len(used))
    approx = (u[:, :rank] * s[:rank]) @ vt[:rank]
    rows_used = np.searchsorted(used, entity)
    noise = float(np.mean((matrix[entity, other] - approx[rows_used, other]) ** 2))
    return basis, noise


def lowrank_shift(draw: Draw, revealed: np.ndarray, basis: np.ndarray, noise: float,
                  ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Per entity, ridge ``residual ≈ c0 + basis[other] · c`` (prior N(0, 1) on c0 and c)."""
    entity, other, residual = draw.residuals(revealed)
    coefficients: dict[int, np.ndarray] = {}
    design_all = np.hstack([np.ones((len(basis), 1)), basis])
    for index in np.unique(entity):
        own = entity == index
        a = design_all[other[own]]
        coefficients[int(index)] = np.linalg.solve(a.T @ a + noise * np.eye(a.shape[1]),
                                                   a.T @ residual[own])

    def shift(e: np.ndarray, o: np.ndarray) -> np.ndarray:
        out = np.zeros(len(e))
        for index, c in coefficients.items():
            rows = e == index
            out[rows] = design_all[o[rows]] @ c
        return out

    return shift


def gbt_parts(draw: Draw, revealed: np.ndarray, val: Rows, test: Rows, seed: int,
              ) -> tuple[Preds, Preds]:
    """The trees of ``cold_start.py`` fitted on the training rows plus ``revealed``."""
    from cold_start import side_features
    from sklearn.ensemble import HistGradientBoostingRegressor

    x, y = [], []
    for name in draw.split.objectives():
        rows = draw.split.rows(name, "train")
        if name == ISOLATED:
            rows = np.concatenate([rows, revealed])
        obs = draw.dataset.objectives[name].take(rows)
        x.append(side_features(draw.dataset, obs))
        y.append(obs.log_runtime)
    model = HistGradientBoostingRegressor(max_iter=500, learning_rate=0.1, random_state=seed)
    model.fit(np.vstack(x), np.concatenate(y))

    def predict(rows: Rows) -> Preds:
        return {name: model.predict(side_features(
            draw.dataset, draw.dataset.objectives[name].take(part)))[:, None]
            for name, part in rows.items()}

    return predict(val), predict(test)


def with_revealed(draw: Draw, revealed: np.ndarray, val: Rows, test: Rows) -> Split:
    """The draw's split with ``revealed`` added to training and ``val``, ``test`` kept."""
    parts = {name: {"train": draw.split.rows(name, "train"), "val": val[name],
                    "test": test[name]} for name in draw.split.objectives()}
    parts[ISOLATED]["train"] = np.sort(np.concatenate([parts[ISOLATED]["train"], revealed]))
    return Split(parts, draw.split.level, draw.split.replicate)


def retrained(draw: Draw, revealed: np.ndarray, val: Rows, test: Rows, args: argparse.Namespace,
              tag: str) -> NumpyPitot:
    """``pitot/cold`` trained from scratch with ``revealed`` added to the training rows."""
    split = with_revealed(draw, revealed, val, test)
    path = model_path(args.cache, args.preset, args.mode, draw.split.replicate or 0, args.steps,
                      tag)
    pitot = numpy_pitot(trained_model(path, args.preset, draw.dataset, split,
                                                args.steps))
    assert pitot is not None
    return pitot


def refitted(draw: Draw, revealed: np.ndarray, val: Rows, test: Rows, args: argparse.Namespace,
             model: Any) -> NumpyPitot:
    """``model`` trained on for ``args.refit_steps`` steps with ``revealed`` added (as
    ``training.init_from`` starts a run)."""
    from pitot_tf.presets import resolve
    from pitot_tf.training import train

    config = resolve(args.preset, {**QUIET, "training.steps": args.refit_steps})
    split = with_revealed(draw, revealed, val, test)
    pitot = numpy_pitot(train(config, draw.dataset, split, start=model).model)
    assert pitot is not None
    return pitot


def fold_in_ms(draw: Draw, ks: tuple[int, ...] = (1, 3, 10, 20)) -> dict[str, float]:
    """Median wall milliseconds of one fold-in of a test entity with k measurements."""
    obs = draw.dataset.objectives[ISOLATED]
    rows = draw.split.rows(ISOLATED, "test")
    entities = np.unique(getattr(obs, draw.axis)[rows])[:20]
    size = draw.pitot.platforms if draw.other == "platform" else draw.pitot.workloads
    out = {}
    for k in ks:
        times = []
        for index in entities:
            own = rows[getattr(obs, draw.axis)[rows] == index][:k]
            start = time.perf_counter()
            measured = Measurements.of(getattr(obs, draw.other)[own], obs.log_runtime[own], size)
            draw.pitot.fold_in(Entity(draw.axis, int(index)), measured)
            times.append(time.perf_counter() - start)
        out[str(k)] = 1000 * float(np.median(times))
    return out


def run_draw(dataset: Dataset, draw_index: int, args: argparse.Namespace,
             ) -> dict[str, dict[str, list[Scores]]]:
    """Every method's scores per k (one per seed) on one draw."""
    split = make_cold_split(dataset, 1.0, draw_index, mode=args.mode, holdout=args.holdout)
    axis = AXES[args.mode][0]
    model = trained_model(model_path(args.cache, args.preset, args.mode, draw_index, args.steps),
                          args.preset, dataset, split, args.steps)
    pitot = numpy_pitot(model)
    assert pitot is not None
    pitot = replace(pitot, fold_interference=args.fold_interference)
    iso, val_iso = dataset.objectives[ISOLATED], split.rows(ISOLATED, "val")
    other = "platform" if axis == "workload" else "workload"
    pitot = with_tuned_prior(pitot, axis, getattr(iso, axis)[val_iso],
                             getattr(iso, other)[val_iso], iso.log_runtime[val_iso], args.prior)
    print(f"draw {draw_index}: {args.prior} prior tuned on the validation entities (baseline "
          f"term, embedding, isotropic): {pitot.prior_rescale[axis]}", flush=True)
    draw = Draw(dataset, split, pitot, axis, not args.no_clip)
    print(f"draw {draw_index}: fold-in ms by k {fold_in_ms(draw)}", flush=True)
    val_all = {n: split.rows(n, "val") for n in split.objectives()}
    calibration = calibration_residuals(pitot, dataset, val_all, axis,
                                        np.random.default_rng([draw_index, 99]), args.repeats)
    bounds = {name: ConformalUpperBound(alphas=(ALPHA,), mondrian=True).fit(
        s.true, draw.clipped(name, s.rows, s.pred), s.group) for name, s in calibration.items()}
    basis, noise = factors(draw, args.rank)
    out: dict[str, dict[str, list[Scores]]] = {}
    for seed in range(args.seeds):
        for k in args.ks:
            rng = np.random.default_rng([draw_index, seed, k])
            revealed = np.concatenate([
                reveal(iso, split.rows(ISOLATED, part), axis,
                       dict.fromkeys(np.unique(getattr(iso, axis)[split.rows(ISOLATED, part)])
                                     .tolist(), k), rng) for part in ("val", "test")])
            val, test = draw.kept("val", revealed), draw.kept("test", revealed)
            zero_val, zero_test = draw.predict(pitot, val), draw.predict(pitot, test)
            folded = fold_in_revealed(pitot, iso, revealed, axis)
            results = {"fold-in": scored(draw, val, test, {}, draw.predict(folded, test),
                                         bounds.__getitem__, k_group(k))}
            for method, shift in (("shift", mean_shift(draw, revealed)),
                                  ("lowrank", lowrank_shift(draw, revealed, basis, noise))):
                results[method] = scored(draw, val, test, add_shift(draw, val, zero_val, shift),
                                         add_shift(draw, test, zero_test, shift))
            if seed < args.gbt_seeds and k in args.gbt_k:
                results["gbt"] = scored(draw, val, test, *gbt_parts(draw, revealed, val, test,
                                                                     seed))
            if seed < args.retrain_seeds and k in args.retrain_k:
                again = retrained(draw, revealed, val, test, args, f"-retrain-k{k}-seed{seed}")
                results["retrain"] = scored(draw, val, test, draw.predict(again, val),
                                            draw.predict(again, test))
            if seed < args.refit_seeds and k in args.refit_k:
                refit = refitted(draw, revealed, val, test, args, model)
                results["refit"] = scored(draw, val, test, draw.predict(refit, val),
                                          draw.predict(refit, test))
            for method, scores in results.items():
                out.setdefault(method, {}).setdefault(str(k), []).append(scores)
                print(f"draw {draw_index} seed {seed} k {k} {method}: " + "; ".join(
                    f"{o} MAPE {s['mape']:.1%} cov {s[f'coverage_{ALPHA}']:.1%} "
                    f"width {s[f'width_{ALPHA}']:.1%}" for o, s in scores.items()), flush=True)
    return out


def averaged(runs: list[Scores]) -> Scores:
    return {o: {m: float(np.mean([r[o][m] for r in runs])) for m in runs[0][o]} for o in runs[0]}


def print_table(summary: dict[str, dict[str, Scores]]) -> None:
    objectives = list(next(iter(next(iter(summary.values())).values())))
    print("| method | k | " + " | ".join(f"{o} MAPE | {o} coverage@{ALPHA} | {o} width@{ALPHA}"
                                         for o in objectives) + " |")
    print("|---" * (2 + 3 * len(objectives)) + "|")
    for method, by_k in summary.items():
        for k, scores in by_k.items():
            cells = [f"{scores[o]['mape']:.1%} | {scores[o][f'coverage_{ALPHA}']:.1%} | "
                     f"{scores[o][f'width_{ALPHA}']:.1%}" for o in objectives]
            print(f"| {method} | {k} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_data_options(parser, overrides=False)
    parser.add_argument("--mode", choices=("cold-workload", "cold-platform"),
                        default="cold-workload")
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--from-draw", type=int, default=0)
    parser.add_argument("--ks", type=int, nargs="+", default=[0, 1, 3, 5, 10])
    parser.add_argument("--seeds", type=int, default=5, help="random reveals per k")
    parser.add_argument("--repeats", type=int, default=2,
                        help="simulations per group of k when calibrating fold-in bounds")
    parser.add_argument("--prior", choices=PRIOR_SOURCES, default="calibrated",
                        help="fold-in prior: calibrated on the validation entities' fully "
                        "fitted rows, or the trained rows' deviations rescaled")
    parser.add_argument("--fold-interference", choices=FOLD_INTERFERENCE, default="zero-shot",
                        help="whether a folded-in workload's interference with co-runners "
                        "stays as the model gave it or moves with its refitted embedding")
    parser.add_argument("--preset", default="pitot/cold")
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--gbt-seeds", type=int, default=1)
    parser.add_argument("--gbt-k", type=int, nargs="*", default=[0, 3, 10])
    parser.add_argument("--retrain-seeds", type=int, default=0)
    parser.add_argument("--retrain-k", type=int, nargs="*", default=[3, 10])
    parser.add_argument("--refit-seeds", type=int, default=0)
    parser.add_argument("--refit-k", type=int, nargs="*", default=[3, 10])
    parser.add_argument("--refit-steps", type=int, default=5000)
    parser.add_argument("--no-clip", action="store_true")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--jsonl", type=Path, default=None,
                        help="append each draw's scores to this file as it finishes")
    parser.add_argument("--from-jsonl", type=Path, nargs="*", default=[],
                        help="summarize the draws in these files (of --jsonl) instead of running")
    args = parser.parse_args()
    from pitot_tf.data.dataset import load_dataset

    per_draw: dict[int, dict[str, dict[str, list[Scores]]]] = {}
    for path in args.from_jsonl:
        per_draw.update({int(r["draw"]): r["scores"] for r in read_jsonl(path) if "draw" in r})
    if not args.from_jsonl:
        dataset = load_dataset(args.data_dir)
        for d in range(args.from_draw, args.draws):
            per_draw[d] = run_draw(dataset, d, args)
            if args.jsonl:
                emit({"mode": args.mode, "draw": d, "scores": per_draw[d]}, args.jsonl)
    summarize(args.mode, per_draw)


def summarize(mode: str, per_draw: dict[int, dict[str, dict[str, list[Scores]]]]) -> None:
    """Print the table of every method and k averaged over seeds and draws, then the JSON."""
    methods = list(dict.fromkeys(m for runs in per_draw.values() for m in runs))
    summary = {}
    for m in methods:
        ks = dict.fromkeys(k for runs in per_draw.values() for k in runs.get(m, {}))
        summary[m] = {k: averaged([s for runs in per_draw.values()
                                   for s in runs.get(m, {}).get(k, [])]) for k in ks}
    print_table(summary)
    draws = {str(d): {m: {k: averaged(v) for k, v in runs[m].items()} for m in runs}
             for d, runs in sorted(per_draw.items())}
    emit({"mode": mode, "draws": sorted(per_draw), "k": summary.get("fold-in", {}),
          **{m: summary[m] for m in methods if m != "fold-in"}, "per_draw": draws})

if __name__ == "__main__":
    main()
