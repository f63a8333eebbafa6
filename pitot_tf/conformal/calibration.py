"""Split-conformal upper bounds on runtime, in the log domain (one-sided), with CQR head choice.

Given calibration (validation-split) residuals ``r = log t - log t̂`` the margin for miscoverage
``alpha`` is the ``k``-th smallest residual with ``k = ceil((1 - alpha)(n + 1))`` -- the
empirical quantile at level ``(1 - alpha)(1 + 1/n)`` taken as the higher / inverted-CDF order
statistic. For exchangeable data the bound ``log t̂ + margin`` then holds for a fresh row with
probability at least ``1 - alpha`` (and below ``1 - alpha + 1/(n + 1)``). When ``k > n``, i.e.
``alpha < 1/(n + 1)``, the margin would be ``+inf``: we raise :class:`ConformalError` instead.

With several prediction heads (e.g. quantile-regression outputs) every head gets a margin and,
per ``alpha``, the head whose bound is tightest on the calibration split is chosen
(conformalized quantile regression). With ``mondrian=True`` margins are computed per group
(platform runtime, CPU architecture, ...) so the guarantee holds within each group; rows of a
group not seen at calibration fall back to the pooled margin.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pitot_tf.conformal import metrics
from pitot_tf.errors import ConformalError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
GroupLabel = int | str

#: Miscoverage levels calibrated by default: 0.10, 0.09, ..., 0.01.
DEFAULT_ALPHAS: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(10, 0, -1))

_FORMAT = "pitot_tf.conformal.ConformalUpperBound"
_VERSION = 1


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` as a float, or raise ConformalError unless ``0 < alpha < 1``."""
    a = float(alpha)
    if not 0.0 < a < 1.0:
        raise ConformalError(f"miscoverage alpha must be in (0, 1), got {alpha!r}")
    return a


def min_supported_alpha(n: int) -> float:
    """The smallest miscoverage a calibration set of ``n`` residuals supports: ``1/(n + 1)``."""
    return 1.0 / (n + 1)


def conformal_rank(alpha: float, n: int, where: str = "") -> int:
    """1-based rank ``k = ceil((1 - alpha)(n + 1))`` of the residual that is the margin.

    Raises ConformalError when ``alpha`` is outside (0, 1), ``n < 1`` or ``k > n`` (quantile
    level ``(1 - alpha)(1 + 1/n) > 1``: the margin would be infinite). ``where`` (e.g.
    ``"group 'x'"``) is added to the message.
    """
    a = check_alpha(alpha)
    suffix = f" ({where})" if where else ""
    if n < 1:
        raise ConformalError(f"empty calibration set{suffix}: no margin can be computed")
    # Rounding absorbs float noise such as (1 - 0.1) * 10 = 9.000000000000002.
    k = math.ceil(round((1.0 - a) * (n + 1), 9))
    if k > n:
        raise ConformalError(
            f"alpha={a:g} is too small for a calibration set of n={n} residuals{suffix}: "
            f"the quantile level (1-alpha)(1+1/n)={(1.0 - a) * (n + 1) / n:.4f} exceeds 1, "
            f"so the margin would be +inf; the smallest alpha it supports is "
            f"1/(n+1)={min_supported_alpha(n):.4g}"
        )
    return max(k, 1)


def supported_alphas(alphas: Sequence[float], n: int) -> list[float]:
    """The ``alphas`` a calibration set of ``n`` rows supports (``alpha >= 1/(n + 1)``)."""
    usable = []
    for alpha in alphas:
        try:
            conformal_rank(alpha, n)
        except ConformalError:
            continue
        usable.append(float(alpha))
    return usable


def conformal_margins(
    residuals: npt.ArrayLike, alphas: Sequence[float] = DEFAULT_ALPHAS, where: str = ""
) -> FloatArray:
    """Margins, shape ``(n_alpha, heads)``, from residuals ``(n,)`` or ``(n, heads)``.

    Row ``i`` holds, per head, the ``ceil((1 - alphas[i])(n + 1))``-th smallest residual.
    """
    r = np.asarray(residuals, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2:
        raise ConformalError(f"residuals must be (n,) or (n, heads), got shape {r.shape}")
    ordered = np.sort(r, axis=0)
    ranks = np.array([conformal_rank(a, r.shape[0], where) for a in alphas], dtype=np.int64)
    return np.asarray(ordered[ranks - 1, :], dtype=np.float64)


def _as_log_pred(log_pred: npt.ArrayLike, name: str = "log_pred") -> FloatArray:
    arr = np.asarray(log_pred, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ConformalError(f"{name} must be (n,) or (n, heads), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ConformalError(f"{name} has non-finite values (NaN or inf)")
    return arr


def _as_groups(groups: npt.ArrayLike, n: int) -> npt.NDArray[Any]:
    """Group labels as an int64 or str array of shape (n,)."""
    arr = np.asarray(groups)
    if arr.shape != (n,):
        raise ConformalError(f"groups must have shape ({n},), got {arr.shape}")
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64)
    if arr.dtype.kind == "O" and all(
        isinstance(g, (int, np.integer)) and not isinstance(g, bool) for g in arr
    ):
        return arr.astype(np.int64)
    if arr.dtype.kind in "USO":
        return arr.astype(str)
    raise ConformalError(f"group labels must be integers or strings, got dtype {arr.dtype}")


def _label(value: Any) -> GroupLabel:
    item = value.item() if isinstance(value, np.generic) else value
    return item if isinstance(item, int) else str(item)


class ConformalUpperBound:
    """One-sided split-conformal upper bound on log runtime, over a grid of miscoverage levels.

    ``fit`` stores the sorted calibration residuals per head (and per group when
    ``mondrian=True``), so margins and the CQR head choice are available for every ``alpha`` in
    the grid (precomputed) and for any other ``alpha`` the calibration set supports.

    Fitted attributes:

    * ``margins_`` -- ``(n_alpha, heads)`` pooled margins (log domain).
    * ``group_margins_`` -- ``{group: (n_alpha, heads)}``; empty unless ``mondrian``.
    * ``calibration_width_`` -- ``(n_alpha, heads)`` bound width (mean ``|t/u - 1|``) on the
      calibration split, which drives the head choice.
    * ``chosen_head_`` -- ``(n_alpha,)`` index of the tightest head per ``alpha``.
    * ``n_calibration_``, ``n_heads_``, ``groups_`` (sorted group labels).
    """

    def __init__(self, alphas: Iterable[float] = DEFAULT_ALPHAS, mondrian: bool = False) -> None:
        self.alphas: tuple[float, ...] = tuple(check_alpha(a) for a in alphas)
        if not self.alphas:
            raise ConformalError("alphas must name at least one miscoverage level")
        if len(set(self.alphas)) != len(self.alphas):
            raise ConformalError(f"alphas must be distinct, got {self.alphas}")
        self.mondrian = bool(mondrian)
        self._sorted: FloatArray | None = None
        self._group_sorted: dict[GroupLabel, FloatArray] = {}

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        log_true: npt.ArrayLike,
        log_pred: npt.ArrayLike,
        groups: npt.ArrayLike | None = None,
    ) -> ConformalUpperBound:
        """Calibrate on the validation split: ``log_true`` (n,), ``log_pred`` (n,) or (n, heads).

        ``groups`` (n,) int or str labels are required when ``mondrian`` and ignored otherwise.
        Raises ConformalError when some ``alpha`` of the grid is below ``1/(n + 1)`` (for
        Mondrian: ``1/(n_g + 1)`` of some group ``g``).
        """
        lp = _as_log_pred(log_pred)
        lt = np.asarray(log_true, dtype=np.float64)
        if lt.shape != (lp.shape[0],):
            raise ConformalError(
                f"log_true must have shape ({lp.shape[0]},) to match log_pred, got {lt.shape}"
            )
        if not np.all(np.isfinite(lt)):
            raise ConformalError("log_true has non-finite values (NaN or inf)")
        residuals = lt[:, None] - lp
        group_sorted: dict[GroupLabel, FloatArray] = {}
        if self.mondrian:
            if groups is None:
                raise ConformalError("mondrian=True needs a group label per calibration row")
            g = _as_groups(groups, lt.shape[0])
            for value in np.unique(g):
                group_sorted[_label(value)] = np.sort(residuals[g == value], axis=0)
        self._set_state(np.sort(residuals, axis=0), group_sorted)
        return self

    def _set_state(self, ordered: FloatArray, group_sorted: dict[GroupLabel, FloatArray]) -> None:
        """Install sorted residuals and precompute the grid's margins, widths and head choice."""
        self._sorted = ordered
        self._group_sorted = group_sorted
        self.n_calibration_: int = int(ordered.shape[0])
        self.n_heads_: int = int(ordered.shape[1])
        self.groups_: list[GroupLabel] = list(group_sorted)
        self.margins_: FloatArray = self._pooled_margins(self.alphas)
        self.group_margins_: dict[GroupLabel, FloatArray] = {
            label: self._group_margins(label, self.alphas) for label in group_sorted
        }
        self.calibration_width_: FloatArray = np.stack(
            [
                self._calibration_width(a, self.margins_[i], self._grid_group_margins(i))
                for i, a in enumerate(self.alphas)
            ]
        )
        self.chosen_head_: IntArray = np.argmin(self.calibration_width_, axis=1).astype(np.int64)

    def _require_fit(self) -> FloatArray:
        if self._sorted is None:
            raise ConformalError("ConformalUpperBound is not fitted: call fit() or from_dict()")
        return self._sorted

    def _pooled_margins(self, alphas: Sequence[float]) -> FloatArray:
        ordered = self._require_fit()
        ranks = [conformal_rank(a, ordered.shape[0]) for a in alphas]
        return np.asarray(ordered[np.array(ranks) - 1, :], dtype=np.float64)

    def _group_margins(self, label: GroupLabel, alphas: Sequence[float]) -> FloatArray:
        ordered = self._group_sorted[label]
        ranks = [conformal_rank(a, ordered.shape[0], f"group {label!r}") for a in alphas]
        return np.asarray(ordered[np.array(ranks) - 1, :], dtype=np.float64)

    def _grid_group_margins(self, index: int) -> dict[GroupLabel, FloatArray]:
        return {label: m[index] for label, m in self.group_margins_.items()}

    def _calibration_width(
        self, alpha: float, pooled: FloatArray, per_group: dict[GroupLabel, FloatArray]
    ) -> FloatArray:
        """Per-head bound width on the calibration split: ``mean |exp(r - margin) - 1|``."""
        ordered = self._require_fit()
        if not self.mondrian:
            return np.asarray(np.mean(np.abs(np.expm1(ordered - pooled)), axis=0))
        total = np.zeros(ordered.shape[1])
        for label, group_res in self._group_sorted.items():
            total += np.sum(np.abs(np.expm1(group_res - per_group[label])), axis=0)
        return np.asarray(total / ordered.shape[0], dtype=np.float64)

    def _margin_tables(self, alpha: float) -> tuple[int, FloatArray, dict[GroupLabel, FloatArray]]:
        """(chosen head, pooled margins per head, group margins per head) for any ``alpha``."""
        a = check_alpha(alpha)
        self._require_fit()
        for i, grid_alpha in enumerate(self.alphas):
            if math.isclose(a, grid_alpha, rel_tol=1e-12, abs_tol=1e-15):
                return int(self.chosen_head_[i]), self.margins_[i], self._grid_group_margins(i)
        pooled = self._pooled_margins([a])[0]
        per_group = {label: self._group_margins(label, [a])[0] for label in self._group_sorted}
        head = int(np.argmin(self._calibration_width(a, pooled, per_group)))
        return head, pooled, per_group

    # ------------------------------------------------------------------ prediction

    def chosen_head(self, alpha: float) -> int:
        """Index of the head whose bound is tightest on the calibration split at ``alpha``."""
        return self._margin_tables(alpha)[0]

    def margin(self, alpha: float, groups: npt.ArrayLike | None = None) -> FloatArray:
        """Margin (log domain) of the chosen head at ``alpha``.

        Without ``groups`` (or when not ``mondrian``) this is the pooled margin as a 0-d array
        (broadcasts like a scalar; ``float()`` it if needed). With ``groups`` it is ``(n,)``, one
        per row: the row's group margin when ``mondrian``, the pooled margin for groups unseen at
        calibration and for plain (non-Mondrian) bounds.
        """
        head, pooled, per_group = self._margin_tables(alpha)
        if groups is None:
            return np.asarray(pooled[head], dtype=np.float64)
        g = np.asarray(groups)
        if g.ndim != 1:
            raise ConformalError(f"groups must be 1-D (n,), got shape {g.shape}")
        rows = np.full(g.shape[0], pooled[head], dtype=np.float64)
        if self.mondrian and g.shape[0] > 0:
            g = _as_groups(g, g.shape[0])
            uniq, inverse = np.unique(g, return_inverse=True)
            lookup = np.array(
                [
                    per_group[_label(u)][head] if _label(u) in per_group else pooled[head]
                    for u in uniq
                ],
                dtype=np.float64,
            )
            rows = lookup[inverse]
        return rows

    def upper_bound(
        self,
        log_pred: npt.ArrayLike,
        alpha: float | None = None,
        groups: npt.ArrayLike | None = None,
    ) -> FloatArray:
        """Log-domain upper bound ``log t̂[:, head] + margin`` for each row, chosen head.

        ``alpha=None`` gives every grid level, shape ``(n_alpha, n)`` in ``self.alphas`` order;
        a float gives ``(n,)``. ``log_pred`` is ``(n,)`` (one head) or ``(n, heads)``.
        """
        self._require_fit()
        lp = _as_log_pred(log_pred)
        if lp.shape[1] != self.n_heads_:
            raise ConformalError(
                f"log_pred has {lp.shape[1]} heads but the bound was calibrated with "
                f"{self.n_heads_}"
            )
        g = None if groups is None else _as_groups(groups, lp.shape[0])
        if alpha is not None:
            head = self.chosen_head(alpha)
            return np.asarray(lp[:, head] + self.margin(alpha, g), dtype=np.float64)
        return np.stack(
            [
                lp[:, int(self.chosen_head_[i])] + self.margin(a, g)
                for i, a in enumerate(self.alphas)
            ]
        )

    def evaluate(
        self,
        log_true: npt.ArrayLike,
        log_pred: npt.ArrayLike,
        groups: npt.ArrayLike | None = None,
    ) -> pd.DataFrame:
        """Tidy metrics of the chosen-head bound per grid ``alpha`` on a (test) split.

        Columns: ``alpha, head, coverage, width, overprovision, mape`` (``mape`` is the paper's,
        of the first head, repeated on every row). Add an ``objective`` column to feed
        :func:`pitot_tf.conformal.plots.calibration_plot`.
        """
        bounds = self.upper_bound(log_pred, None, groups)
        lt = np.asarray(log_true, dtype=np.float64)
        return pd.DataFrame(
            {
                "alpha": np.asarray(self.alphas),
                "head": self.chosen_head_,
                "coverage": metrics.coverage(lt, bounds),
                "width": metrics.bound_width(lt, bounds),
                "overprovision": metrics.overprovision(lt, bounds),
                "mape": metrics.mape(lt, log_pred),
            }
        )

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state: settings, sorted residuals (per head, per group) and, for
        reading by eye, the grid's margins and chosen heads. ``from_dict`` rebuilds from the
        residuals, so bounds at any supported ``alpha`` are reproduced exactly."""
        ordered = self._require_fit()
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "alphas": list(self.alphas),
            "mondrian": self.mondrian,
            "n_heads": self.n_heads_,
            "sorted_residuals": ordered.T.tolist(),
            "groups": [
                {"label": label, "sorted_residuals": res.T.tolist()}
                for label, res in self._group_sorted.items()
            ],
            "margins": self.margins_.tolist(),
            "chosen_head": self.chosen_head_.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ConformalUpperBound:
        """Rebuild a fitted bound from :meth:`to_dict` output (e.g. after a JSON round trip)."""
        if state.get("format") != _FORMAT or state.get("version") != _VERSION:
            raise ConformalError(
                f"not a saved ConformalUpperBound (format {state.get('format')!r}, "
                f"version {state.get('version')!r}; expected {_FORMAT!r}, {_VERSION})"
            )
        try:
            obj = cls(alphas=state["alphas"], mondrian=bool(state["mondrian"]))
            n_heads = int(state["n_heads"])

            def columns(heads: Any) -> FloatArray:
                arr = np.asarray(heads, dtype=np.float64)
                if arr.ndim != 2 or arr.shape[0] != n_heads or arr.shape[1] < 1:
                    raise ConformalError(
                        f"saved residuals must be {n_heads} non-empty lists, got shape {arr.shape}"
                    )
                return np.ascontiguousarray(arr.T)

            ordered = columns(state["sorted_residuals"])
            group_sorted = {
                _label(entry["label"]): columns(entry["sorted_residuals"])
                for entry in state["groups"]
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise ConformalError(f"malformed saved ConformalUpperBound: {exc!r}") from exc
        obj._set_state(ordered, group_sorted)
        return obj

    def __repr__(self) -> str:
        fitted = self._sorted is not None
        return (
            f"ConformalUpperBound(alphas={self.alphas}, mondrian={self.mondrian}, fitted={fitted})"
        )
