"""Pitot's equation on its tables, written once for Keras tensors and for numpy arrays.

For workload ``w`` on platform ``p`` beside co-runners ``i``, per member ``e`` and output head
``h`` (the caller adds the linear-scaling baseline)::

    y = <x_w, x_p> + Σ_k susceptibility_k · leaky_relu(pressure_k)
    susceptibility_k = <x_w, Vs_p,k>
    pressure_k       = Σ_i <x_i, Vg_p,k>                 (interference_form="paper")
    pressure_k       = Σ_i <x_w, Vg[min(i, P - 1)],k>    (interference_form="reference")

(:mod:`pitot_tf.models.pitot` says where each form comes from.) A model trained with cold
dropout adds a per-row bias of each axis to ``y``.

Every table has a member axis ``E``: 1 for a single model, ``E`` for an ensemble whose members
share their towers (each member its own block of the towers' output layers). One model is thus
the ``E = 1`` case of the same path. :class:`~pitot_tf.models.pitot.PitotInteraction` evaluates
:func:`pitot_term` with ``keras.ops`` on tables its towers compute on every call; the serving
predictor (:mod:`pitot_tf.models.numpy_predictor`) evaluates the same function with
:data:`NUMPY_OPS` on tables computed once, so both compute the same maths in the same order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class ArrayOps(Protocol):
    """The few ``keras.ops`` functions :func:`pitot_term` uses (``keras.ops`` itself, or
    :data:`NUMPY_OPS`)."""

    def take(self, x: Any, indices: Any, axis: int | None = None) -> Any: ...

    def sum(self, x: Any, axis: int | None = None) -> Any: ...

    def einsum(self, subscripts: str, *operands: Any) -> Any: ...

    def maximum(self, x1: Any, x2: Any) -> Any: ...

    def minimum(self, x1: Any, x2: Any) -> Any: ...

    def reshape(self, x: Any, newshape: Any) -> Any: ...

    def expand_dims(self, x: Any, axis: int) -> Any: ...

    def greater_equal(self, x1: Any, x2: Any) -> Any: ...

    def cast(self, x: Any, dtype: Any) -> Any: ...

    def leaky_relu(self, x: Any, negative_slope: float) -> Any: ...


class _NumpyOps:
    """:class:`ArrayOps` in numpy; float32 in, float32 out."""

    def take(self, x: Any, indices: Any, axis: int | None = None) -> Any:
        return np.take(x, indices, axis=axis)

    def sum(self, x: Any, axis: int | None = None) -> Any:
        return np.sum(x, axis=axis)

    def einsum(self, subscripts: str, *operands: Any) -> Any:
        return np.einsum(subscripts, *operands)

    def maximum(self, x1: Any, x2: Any) -> Any:
        return np.maximum(x1, x2)

    def minimum(self, x1: Any, x2: Any) -> Any:
        return np.minimum(x1, x2)

    def reshape(self, x: Any, newshape: Any) -> Any:
        return np.reshape(x, newshape)

    def expand_dims(self, x: Any, axis: int) -> Any:
        return np.expand_dims(x, axis)

    def greater_equal(self, x1: Any, x2: Any) -> Any:
        return np.greater_equal(x1, x2)

    def cast(self, x: Any, dtype: Any) -> Any:
        return np.asarray(x).astype(dtype)

    def leaky_relu(self, x: Any, negative_slope: float) -> Any:
        return np.maximum(x * negative_slope, x)  # TensorFlow's, for slopes below 1


NUMPY_OPS: ArrayOps = _NumpyOps()


@dataclass(frozen=True)
class Equation:
    """Which terms the equation has: the interference term at all (``model.interference``
    ``model``, not ``ignore``), its form (``reference`` or the paper's) and the leaky ReLU's
    negative slope (``model.if_slope``)."""

    interference: bool = True
    reference: bool = False
    slope: float = 0.1


@dataclass(frozen=True)
class TowerLayout:
    """What the columns of Pitot's two tower outputs hold, member-major.

    The workload tower gives ``x_w`` per member and head (``E · H · d`` columns); the platform
    tower gives per member ``[x_p | Vs_1 … Vs_k | Vg_1 … Vg_k]`` (``E · (1 + 2k) · d``). With
    ``bias`` (cold dropout) each tower then gives one more column per member and head.
    """

    members: int
    heads: int
    mf_dim: int
    if_dim: int
    bias: bool = False

    @property
    def bias_width(self) -> int:
        return self.members * self.heads if self.bias else 0

    @property
    def workload_width(self) -> int:
        return self.members * self.heads * self.mf_dim + self.bias_width

    @property
    def platform_width(self) -> int:
        return self.members * (1 + 2 * self.if_dim) * self.mf_dim + self.bias_width

    def workload(self, out: Any, xp: ArrayOps) -> tuple[Any, Any]:
        """``x_w (W, E, H, d)`` and the bias ``(W, E, H)`` (None without) from the workload
        tower's output ``(W, workload_width)``."""
        e, h, d = self.members, self.heads, self.mf_dim
        return xp.reshape(out[:, : e * h * d], (-1, e, h, d)), self._bias(out, xp)

    def platform(self, out: Any, xp: ArrayOps) -> tuple[Any, Any, Any, Any]:
        """``x_p (P, E, d)``, ``Vs`` and ``Vg (P, E, k, d)`` and the bias ``(P, E, H)`` (None
        without) from the platform tower's output ``(P, platform_width)``."""
        e, k, d = self.members, self.if_dim, self.mf_dim
        blocks = xp.reshape(out[:, : e * (1 + 2 * k) * d], (-1, e, 1 + 2 * k, d))
        return blocks[:, :, 0], blocks[:, :, 1 : 1 + k], blocks[:, :, 1 + k :], self._bias(out, xp)

    def _bias(self, out: Any, xp: ArrayOps) -> Any:
        if not self.bias:
            return None
        return xp.reshape(out[:, -self.bias_width :], (-1, self.members, self.heads))


@dataclass(frozen=True)
class PitotTables:
    """Every row's tables (Keras tensors or numpy arrays): workload ``x_w (W, E, H, d)``,
    platform ``x_p (P, E, d)``, ``v_s`` and ``v_g (P, E, k, d)``, and with cold dropout the
    per-row biases ``(W, E, H)`` and ``(P, E, H)``. ``x_w_alone`` (numpy only; None: ``x_w``)
    is the workloads' embedding in the term ``<x_w, x_p>`` alone, where a fold-in refitted it
    to runs alone (:mod:`pitot_tf.models.fold_in_tables`) and the interference term keeps
    ``x_w``."""

    x_w: Any
    x_p: Any
    v_s: Any
    v_g: Any
    workload_bias: Any = None
    platform_bias: Any = None
    x_w_alone: Any = None

    @property
    def alone(self) -> Any:
        """The workloads' embedding in the term of a run alone."""
        return self.x_w if self.x_w_alone is None else self.x_w_alone

    @classmethod
    def from_towers(cls, workload_out: Any, platform_out: Any, layout: TowerLayout,
                    xp: ArrayOps) -> PitotTables:
        """The tables held in the two towers' outputs (see :class:`TowerLayout`)."""
        x_w, workload_bias = layout.workload(workload_out, xp)
        x_p, v_s, v_g, platform_bias = layout.platform(platform_out, xp)
        return cls(x_w, x_p, v_s, v_g, workload_bias, platform_bias)

    def map(self, function: Callable[[Any], Any]) -> PitotTables:
        """``function`` applied to every table (the biases only where present)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return PitotTables(**{name: None if value is None else function(value)
                              for name, value in values.items()})


@dataclass(frozen=True)
class RowTables:
    """What :func:`row_term` reads of a batch of rows (Keras tensors or numpy arrays): the
    rows' own workload ``x_w (b, E, H, d)``, platform ``x_p (b, E, d)`` and ``v_s
    (b, E, k, d)``; for the interference term the mask of filled co-runner slots ``present
    (b, J, 1, 1, 1)`` and either the co-runners' ``x_i (b, J, E, H, d)`` and the platform's
    ``v_g (b, E, k, d)`` (the paper's form) or ``v_g (b, J, E, k, d)`` read at each
    co-runner's clamped index (the reference's); with cold dropout the rows' biases
    ``(b, E, H)``.

    :func:`gather_rows` reads them from every entity's tables; a layer may also compute
    them by running its towers on the batch's entities alone
    (:meth:`pitot_tf.models.pitot.PitotInteraction.call`), the same numbers for large axes at
    a fraction of the cost."""

    x_w: Any
    x_p: Any
    v_s: Any
    v_g: Any = None
    x_i: Any = None
    present: Any = None
    platform_bias: Any = None
    workload_bias: Any = None
    x_w_alone: Any = None  # the rows' workload embedding in <x_w, x_p> (None: x_w)


def corunner_rows(interferers: Any, platforms: int, equation: Equation, xp: ArrayOps) -> Any:
    """``(b, J)`` indices safe to read co-runner rows at: the workload rows of ``x_i`` (the
    paper's form), or the platform rows of ``v_g`` (the reference's, clamped to the last
    platform, :mod:`pitot_tf.models.pitot`); empty slots read row 0."""
    index = xp.maximum(interferers, 0)
    return xp.minimum(index, platforms - 1) if equation.reference else index


def present_slots(interferers: Any, dtype: Any, xp: ArrayOps) -> Any:
    """``(b, J, 1, 1, 1)``: 1 where a co-runner slot is filled, 0 where it is ``-1``."""
    return xp.cast(xp.greater_equal(interferers, 0), dtype)[:, :, None, None, None]


def gather_rows(tables: PitotTables, equation: Equation, platform: Any, workload: Any,
                interferers: Any, xp: ArrayOps) -> RowTables:
    """The :class:`RowTables` of rows ``(platform, workload, interferers)`` read from every
    entity's ``tables``."""
    def bias(table: Any, index: Any) -> Any:
        return None if table is None else xp.take(table, index, axis=0)

    rows = RowTables(
        x_w=xp.take(tables.x_w, workload, axis=0), x_p=xp.take(tables.x_p, platform, axis=0),
        v_s=xp.take(tables.v_s, platform, axis=0),
        platform_bias=bias(tables.platform_bias, platform),
        workload_bias=bias(tables.workload_bias, workload),
        x_w_alone=bias(tables.x_w_alone, workload))
    if not equation.interference:
        return rows
    present = present_slots(interferers, rows.x_w.dtype, xp)
    index = corunner_rows(interferers, int(tables.x_p.shape[0]), equation, xp)
    if equation.reference:
        return dataclasses.replace(rows, present=present, v_g=xp.take(tables.v_g, index, axis=0))
    return dataclasses.replace(rows, present=present, x_i=xp.take(tables.x_w, index, axis=0),
                               v_g=xp.take(tables.v_g, platform, axis=0))


def pitot_term(tables: PitotTables, equation: Equation, platform: Any, workload: Any,
               interferers: Any, xp: ArrayOps) -> Any:
    """``(batch, E · H)``: the equation of the module (member ``e``'s heads in columns
    ``e · H …``); ``interferers`` is ``(batch, J)`` workload indices, ``-1`` for no co-runner."""
    rows = gather_rows(tables, equation, platform, workload, interferers, xp)
    return row_term(rows, equation, xp)


def row_term(rows: RowTables, equation: Equation, xp: ArrayOps) -> Any:
    """``(batch, E · H)``: the equation of the module on the rows' own tables."""
    columns = int(rows.x_w.shape[1]) * int(rows.x_w.shape[2])
    x_w = rows.x_w  # (b, E, H, d)
    alone = x_w if rows.x_w_alone is None else rows.x_w_alone
    prediction = xp.sum(alone * xp.expand_dims(rows.x_p, 2), axis=-1)
    if rows.platform_bias is not None:
        prediction = prediction + rows.platform_bias + rows.workload_bias
    prediction = xp.reshape(prediction, (-1, columns))
    if not equation.interference:
        return prediction
    susceptibility = xp.einsum("behd,bekd->behk", x_w, rows.v_s)
    if equation.reference:
        # Σ_i <x_w, Vg[min(i, P - 1)],k>: the reference code's maths (pitot_tf.models.pitot)
        v_g = xp.sum(rows.v_g * rows.present, axis=1)  # (b, E, k, d)
        pressure = xp.einsum("behd,bekd->behk", x_w, v_g)
    else:
        # Σ_i <x_i, Vg_p,k>: linear in the co-runners' embeddings, so sum them first
        x_i = xp.sum(rows.x_i * rows.present, axis=1)
        pressure = xp.einsum("behd,bekd->behk", x_i, rows.v_g)
    rectified = xp.leaky_relu(pressure, negative_slope=equation.slope)
    return prediction + xp.reshape(xp.sum(susceptibility * rectified, axis=-1), (-1, columns))
