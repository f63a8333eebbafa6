"""Conformal evaluation of a trained model: calibrate on the validation split, test on test.

:func:`evaluate` is the one place the reported numbers are computed; the CLI, the MLflow runs
and the pyfunc model all read them from its :class:`Evaluation`. It produces two tidy tables:

* ``table`` -- one row per objective × split (``val``: calibration, ``test``) × α × head with
  the head's margin, coverage, width, overprovision and MAPE; ``chosen`` marks the head that
  the bound uses at that α (the tightest on the calibration split).
* ``groups`` -- test coverage, width and MAPE per platform group (see
  :mod:`pitot_tf.conformal.groups`) for the plain (pooled-margin) bound and the Mondrian bound
  (a margin per group). A group too small to calibrate at some α keeps the pooled margin there
  (``pooled_fallback``); ``group == "(all)"`` rows aggregate over all test rows. On a split
  with rows of entities the training rows never saw (``pitot-tf split --mode cold-*``), the
  grouping ``cold`` has one group per cold kind (``warm``, ``cold-workload``, ``cold-platform``,
  ``cold-both``): its ``mondrian`` rows are the bounds calibrated per kind.

An α below ``1/(n + 1)`` for an objective's ``n`` calibration rows cannot be calibrated; it is
left out for that objective and listed in ``notes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import numpy.typing as npt
import pandas as pd

from pitot_tf.conformal import metrics
from pitot_tf.conformal.calibration import (
    DEFAULT_ALPHAS,
    ConformalUpperBound,
    supported_alphas,
)
from pitot_tf.conformal.groups import (
    COLD_BOTH,
    COLD_PLATFORM,
    COLD_WORKLOAD,
    WARM,
    available_groupings,
    cold_kinds,
    platform_groups,
    row_groups,
)
from pitot_tf.conformal.tables import (
    ALL_GROUPS,
    ObjectivePredictions,
    empty_groups,
    group_table,
    head_table,
)
from pitot_tf.data.cold import seen_entities
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import Split
from pitot_tf.data.units import DEFAULT_UNIT, log_to_seconds
from pitot_tf.errors import ConformalError
from pitot_tf.training.predict import predict_objective

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Miscoverage levels in summaries and logged metrics.
SUMMARY_ALPHAS: tuple[float, ...] = (0.1, 0.05, 0.01)
TABLE_FILE = "conformal.csv"
GROUPS_FILE = "conformal_groups.csv"
#: The grouping of the groups table whose groups are the rows' cold kinds
#: (:func:`~pitot_tf.conformal.groups.cold_kinds`); present when some row is not warm.
COLD_GROUPING = "cold"
BOUNDS_FILE = "conformal_bounds.json"
#: The fixed permutation that cuts validation rows into halves for held-out metrics.
HALVES_SEED = 20250101


@dataclass
class Evaluation:
    """The conformal tables of one model on one split, the fitted (plain) bounds, and the
    dataset's runtime unit (log runtimes are of that unit)."""

    table: pd.DataFrame
    groups: pd.DataFrame
    bounds: dict[str, ConformalUpperBound]
    predictions: dict[str, ObjectivePredictions]
    notes: list[str] = field(default_factory=list)
    unit: str = DEFAULT_UNIT
    #: Per objective, a bound fitted on the validation rows of a workload never in training on
    #: a measured platform only (kind ``cold-workload``: the held-out calibration workloads of
    #: a ``cold-workload`` or ``cold-both`` split), where there are enough of them; the served
    #: model bounds a new workload on a known platform with it (Mondrian over row kinds). A
    #: ``cold-platform`` split has no such rows: its margins say nothing about new workloads.
    cold_bounds: dict[str, ConformalUpperBound] = field(default_factory=dict)
    #: Per objective, those ``cold-workload`` validation rows (indices into the objective),
    #: where there are any: on them a logged Pitot model calibrates its fold-in prior and its
    #: bounds after k measurements (:func:`pitot_tf.conformal.few_shot.fold_in_bounds`).
    cold_rows: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)
    #: Per cold row kind other than ``cold-workload`` (``cold-platform``, ``cold-both``: the
    #: held-out platforms of a ``cold-platform`` or ``cold-both`` split), per objective the bound
    #: fitted on its validation rows of that kind, as :attr:`cold_bounds`: the served model
    #: bounds a new platform (and a new workload on it) with them.
    kind_bounds: dict[str, dict[str, ConformalUpperBound]] = field(default_factory=dict)
    #: Per objective, the ``cold-platform`` validation rows (held-out platforms, measured
    #: workloads), where there are any: on them a logged Pitot model calibrates its platform
    #: fold-in prior and its bounds after k runs on a platform, as :attr:`cold_rows`.
    cold_platform_rows: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)

    def summary(self, alphas: Sequence[float] = SUMMARY_ALPHAS) -> pd.DataFrame:
        """Chosen-head test rows at ``alphas``: what a reader wants first."""
        rows = self.table[(self.table["split"] == "test") & self.table["chosen"]]
        rows = rows[np.isin(rows["alpha"].round(6), np.round(alphas, 6))]
        columns = ["objective", "alpha", "coverage", "width", "margin", "head", "mape", "n"]
        return rows[columns].reset_index(drop=True)

    def metrics(self, alphas: Sequence[float] = SUMMARY_ALPHAS) -> dict[str, float]:
        """Flat metrics under stable names: ``test_<obj>_mape``, ``test_<obj>_coverage_<α>``,
        ``test_<obj>_width_<α>``, ``val_<obj>_mape`` and held-out validation bounds
        ``val_<obj>_coverage_<α>`` / ``val_<obj>_width_<α>`` (fractions; α printed like
        ``0.05``).

        The validation rows calibrate the bound, so its coverage there is about ``1 - α`` by
        construction; the ``val_`` bound metrics instead fit a bound on one half of the
        validation rows and measure it on the other (:func:`held_out_bound`), as the search
        scores trials. An α a half cannot calibrate is left out."""
        found: dict[str, float] = {}
        for (split, objective), rows in self.table.groupby(["split", "objective"], sort=True):
            first = rows[rows["head"] == 0]
            found[f"{split}_{objective}_mape"] = float(first["mape"].iloc[0])
            if split != "test":
                continue
            chosen = rows[rows["chosen"]]
            for alpha in alphas:
                at = chosen[np.isclose(chosen["alpha"], alpha)]
                if len(at):
                    found[f"{split}_{objective}_coverage_{alpha:g}"] = float(at["coverage"].iloc[0])
                    found[f"{split}_{objective}_width_{alpha:g}"] = float(at["width"].iloc[0])
        for objective, pred in self.predictions.items():
            for alpha in alphas:
                held = held_out_bound(pred.val_true, pred.val_pred, alpha)
                if held is not None:
                    found[f"val_{objective}_coverage_{alpha:g}"] = held[0]
                    found[f"val_{objective}_width_{alpha:g}"] = held[1]
        return found | self.kind_metrics(alphas)

    def kind_metrics(self, alphas: Sequence[float] = SUMMARY_ALPHAS) -> dict[str, float]:
        """On a split with cold rows, per objective and cold kind of test row (``cold_workload``,
        ``cold_platform``, ``cold_both``): ``test_<obj>_<kind>_mape`` and the coverage and width
        of the bound calibrated on that kind's validation rows (Mondrian by kind, as a served
        model bounds a new workload or platform), ``test_<obj>_<kind>_coverage_<α>`` and
        ``..._width_<α>``. Empty on a split without cold rows."""
        found: dict[str, float] = {}
        kinds = self.groups[(self.groups["grouping"] == COLD_GROUPING)
                            & (self.groups["bound"] == "mondrian")
                            & ~self.groups["group"].isin([WARM, ALL_GROUPS])]
        for (objective, kind), rows in kinds.groupby(["objective", "group"], sort=True):
            prefix = f"test_{objective}_{str(kind).replace('-', '_')}"
            found[f"{prefix}_mape"] = float(rows["mape"].iloc[0])
            for alpha in alphas:
                at = rows[np.isclose(rows["alpha"].astype(float), alpha)]
                if len(at):
                    found[f"{prefix}_coverage_{alpha:g}"] = float(at["coverage"].iloc[0])
                    found[f"{prefix}_width_{alpha:g}"] = float(at["width"].iloc[0])
        return found

    def test_runtimes(self, objective: str, alpha: float) -> tuple[FloatArray, ...]:
        """Test ``(true, predicted, upper bound)`` runtimes in seconds at ``alpha`` (plots)."""
        pred = self.predictions[objective]
        bound = self.bounds[objective].upper_bound(pred.test_pred, alpha)
        return tuple(log_to_seconds(x, self.unit)
                     for x in (pred.test_true, pred.test_pred[:, 0], bound))

    def save(self, directory: str | Path) -> list[Path]:
        """Write the tables (CSV) and the bounds (JSON) into ``directory``; return the paths."""
        import json

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.table.to_csv(out / TABLE_FILE, index=False)
        self.groups.to_csv(out / GROUPS_FILE, index=False)
        states = {name: bound.to_dict() for name, bound in self.bounds.items()}
        (out / BOUNDS_FILE).write_text(json.dumps(states))
        return [out / TABLE_FILE, out / GROUPS_FILE, out / BOUNDS_FILE]


def evaluate(
    model: keras.Model,
    dataset: Dataset,
    split: Split,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    groupings: Sequence[str] | None = None,
) -> Evaluation:
    """Calibrate bounds on each objective's validation rows and measure them on its test rows.

    ``groupings`` (default: those of ``runtime`` and ``uarch`` the platform features have)
    name the platform groups for the per-group table. Raises ConformalError when no objective
    can be evaluated (no validation or test rows, or too few for every α).
    """
    chosen = list(groupings) if groupings is not None else available_groupings(dataset.platforms)
    labels = {g: platform_groups(dataset.platforms, g) for g in chosen}
    tables, group_tables, notes = [], [], []
    seen = seen_entities(dataset, split)
    bounds: dict[str, ConformalUpperBound] = {}
    predictions: dict[str, ObjectivePredictions] = {}
    for name in [n for n in split.objectives() if n in dataset.objectives]:
        pred = _predictions(model, dataset, split, name)
        usable = supported_alphas(alphas, len(pred.val_true))
        if not len(pred.test_true) or not usable:
            notes.append(_skip_note(name, pred, alphas))
            continue
        bound = ConformalUpperBound(usable).fit(pred.val_true, pred.val_pred)
        bounds[name], predictions[name] = bound, pred
        dropped = [a for a in alphas if a not in usable]
        if dropped:
            notes.append(f"{name}: alpha {dropped} below 1/(n+1) for n={len(pred.val_true)}")
        tables += [head_table(name, "val", bound, pred.val_true, pred.val_pred),
                   head_table(name, "test", bound, pred.test_true, pred.test_pred)]
        objective = dataset.objectives[name]
        for grouping, per_platform in labels.items():
            group_tables.append(group_table(
                grouping, row_groups(per_platform, objective, pred.val_rows),
                row_groups(per_platform, objective, pred.test_rows), pred, bound))
        val_kinds, test_kinds = (cold_kinds(objective, rows, seen)
                                 for rows in (pred.val_rows, pred.test_rows))
        if not np.all(val_kinds == WARM) or not np.all(test_kinds == WARM):
            group_tables.append(group_table(COLD_GROUPING, val_kinds, test_kinds, pred, bound))
    if not tables:
        raise ConformalError(f"no objective could be evaluated: {'; '.join(notes)}")
    groups = pd.concat(group_tables, ignore_index=True) if group_tables else empty_groups()
    kinds = {kind: cold_bounds(dataset, seen, predictions, alphas, kind)
             for kind in (COLD_PLATFORM, COLD_BOTH)}
    return Evaluation(pd.concat(tables, ignore_index=True), groups, bounds, predictions, notes,
                      dataset.unit, cold_bounds(dataset, seen, predictions, alphas),
                      kind_rows(dataset, seen, predictions, COLD_WORKLOAD),
                      {kind: found for kind, found in kinds.items() if found},
                      kind_rows(dataset, seen, predictions, COLD_PLATFORM))


def kind_rows(dataset: Dataset, seen: dict[str, np.ndarray],
              predictions: dict[str, ObjectivePredictions], kind: str,
              ) -> dict[str, npt.NDArray[np.int64]]:
    """Per objective, its validation rows of the cold row ``kind`` (objectives without any
    left out)."""
    found = {name: pred.val_rows[cold_kinds(dataset.objectives[name], pred.val_rows, seen)
                                 == kind] for name, pred in predictions.items()}
    return {name: rows for name, rows in found.items() if len(rows)}


def cold_bounds(
    dataset: Dataset, seen: dict[str, np.ndarray],
    predictions: dict[str, ObjectivePredictions], alphas: Sequence[float],
    kind: str = COLD_WORKLOAD,
) -> dict[str, ConformalUpperBound]:
    """Per objective, the bound of its validation rows of ``kind`` (cold-workload: see
    :attr:`Evaluation.cold_bounds`; others: :attr:`Evaluation.kind_bounds`), at the ``alphas``
    they support; objectives with too few such rows have none. ``seen``: the training rows'
    entities (:func:`seen_entities`)."""
    found = {}
    for name, pred in predictions.items():
        cold = cold_kinds(dataset.objectives[name], pred.val_rows, seen) == kind
        usable = supported_alphas(alphas, int(cold.sum()))
        if usable:
            found[name] = ConformalUpperBound(usable).fit(pred.val_true[cold],
                                                          pred.val_pred[cold])
    return found


def calibration_halves(n: int, seed: int = HALVES_SEED) -> tuple[IntArray, IntArray]:
    """Positions ``0..n-1`` cut into a calibration and an evaluation half by a fixed
    permutation (the same cut every time, so runs are compared on the same rows)."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:])


def held_out_bound(
    log_true: FloatArray, log_pred: FloatArray, alpha: float
) -> tuple[float, float] | None:
    """``(coverage, width)`` at ``alpha`` of a bound fitted on one half of the rows and
    measured on the other; None when a half is too small for ``alpha``."""
    calibrate, held = calibration_halves(len(log_true))
    if not supported_alphas([alpha], len(calibrate)) or not len(held):
        return None
    bound = ConformalUpperBound([alpha]).fit(log_true[calibrate], log_pred[calibrate])
    upper = bound.upper_bound(log_pred[held], alpha)
    return (float(metrics.coverage(log_true[held], upper)),
            float(metrics.bound_width(log_true[held], upper)))


def _skip_note(name: str, pred: ObjectivePredictions, alphas: Sequence[float]) -> str:
    n_val, n_test = len(pred.val_true), len(pred.test_true)
    needed = int(np.ceil(1 / max(alphas))) - 1
    return (f"{name}: skipped ({n_val} validation and {n_test} test rows; "
            f"alpha={max(alphas):g} needs >= {needed} validation rows and some test rows)")


def _predictions(
    model: keras.Model, dataset: Dataset, split: Split, name: str
) -> ObjectivePredictions:
    val_rows, test_rows = split.rows(name, "val"), split.rows(name, "test")
    val_true, val_pred = predict_objective(model, dataset, name, val_rows)
    test_true, test_pred = predict_objective(model, dataset, name, test_rows)
    return ObjectivePredictions(name, val_rows, _float(val_true), _float(val_pred, 2),
                                test_rows, _float(test_true), _float(test_pred, 2))


def _float(values: npt.ArrayLike, ndim: int = 1) -> FloatArray:
    """``values`` as float64; ``ndim=2`` makes one-head ``(n,)`` predictions ``(n, 1)``."""
    array = np.asarray(values, dtype=np.float64)
    return array[:, None] if ndim == 2 and array.ndim == 1 else array
