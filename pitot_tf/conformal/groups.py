"""Platform groups for Mondrian (group-conditional) conformal bounds.

Platforms carry one-hot side features coded +1 / -1 whose names read ``<kind>=<value>``
(``runtime=wasmtime-a``, ``uarch=cortex-a53``). A *grouping* is such a kind: each platform's
group is the value of its +1 column, so ``"runtime"`` groups platforms by WebAssembly runtime
and ``"uarch"`` by CPU micro-architecture. Mondrian bounds calibrate one margin per group so
that coverage holds within each group, not only on average over all platforms.

Cold start has groups of its own: :func:`cold_warm_groups` (cold or warm) and
:func:`cold_kinds` (which of workload and platform were never measured), from the entities of
the training rows.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pitot_tf.data.dataset import Axis, Objective
from pitot_tf.errors import ConformalError

#: Groupings reported by default, where the platform features have them.
DEFAULT_GROUPINGS: tuple[str, ...] = ("runtime", "uarch")
#: Label of a platform with no +1 column of the grouping.
NO_GROUP = "(none)"

StrArray = npt.NDArray[np.str_]


def one_hot_kinds(axis: Axis) -> list[str]:
    """Kinds of the ``<kind>=<value>`` feature columns of ``axis``, in column order."""
    kinds: list[str] = []
    for name in axis.feature_names:
        kind, sep, _ = str(name).partition("=")
        if sep and kind not in kinds:
            kinds.append(kind)
    return kinds


def platform_groups(platforms: Axis, grouping: str) -> StrArray:
    """Group label of every platform for ``grouping`` (e.g. ``"runtime"``), shape ``(P,)``.

    The label is the value of the platform's largest ``<grouping>=<value>`` column when that
    column is positive (+1 in the one-hot coding), else :data:`NO_GROUP`. Raises
    ConformalError naming the groupings available when the features have no such columns.
    """
    prefix = f"{grouping}="
    columns = [i for i, name in enumerate(platforms.feature_names) if str(name).startswith(prefix)]
    if not columns:
        raise ConformalError(
            f"grouping '{grouping}': the platform features have no '{prefix}...' columns; "
            f"available groupings: {', '.join(one_hot_kinds(platforms)) or 'none'}"
        )
    values = np.asarray([str(platforms.feature_names[i])[len(prefix):] for i in columns])
    block = np.asarray(platforms.features)[:, columns]
    labels = values[np.argmax(block, axis=1)]
    return np.where(block.max(axis=1) > 0, labels, NO_GROUP).astype(str)


def available_groupings(platforms: Axis, wanted: tuple[str, ...] = DEFAULT_GROUPINGS) -> list[str]:
    """The groupings of ``wanted`` that the platform features define."""
    kinds = one_hot_kinds(platforms)
    return [g for g in wanted if g in kinds]


def row_groups(labels: StrArray, objective: Objective, rows: npt.NDArray[np.int64]) -> StrArray:
    """Group label of each of ``rows`` of ``objective``, from per-platform ``labels``."""
    return labels[objective.platform[rows]]


#: Labels of :func:`cold_warm_groups`.
COLD, WARM = "cold", "warm"


def cold_warm_groups(
    objective: Objective, rows: npt.NDArray[np.int64], seen: dict[str, np.ndarray]
) -> StrArray:
    """``"cold"`` or ``"warm"`` for each of ``rows`` of ``objective``: cold when its platform,
    its workload or one of its co-runners is not ``seen[axis]`` (a boolean mask per axis, the
    entities of the training rows), warm otherwise.

    Mondrian calibration on these labels gives a cold row the margin of cold calibration rows
    (entities held out of training, like it) and a warm row that of warm ones: cold rows'
    errors are larger, so pooled margins under-cover cold rows and over-cover warm ones.
    """
    cold = ~seen["platform"][objective.platform[rows]] | ~seen["workload"][objective.workload[rows]]
    if objective.interferers.shape[1]:
        corunners = objective.interferers[rows]
        unseen = ~seen["workload"][np.maximum(corunners, 0)] & (corunners >= 0)
        cold |= unseen.any(axis=1)
    return np.where(cold, COLD, WARM).astype(str)


#: Labels of :func:`cold_kinds`: a row's kind names what it has never been measured with.
COLD_WORKLOAD, COLD_PLATFORM, COLD_BOTH = "cold-workload", "cold-platform", "cold-both"
COLD_KINDS: tuple[str, ...] = (COLD_WORKLOAD, COLD_PLATFORM, COLD_BOTH, WARM)


def cold_kinds(
    objective: Objective, rows: npt.NDArray[np.int64], seen: dict[str, np.ndarray]
) -> StrArray:
    """The kind of each of ``rows`` of ``objective`` (see :data:`COLD_KINDS`), from ``seen``
    (the entities of the training rows, as for :func:`cold_warm_groups`): ``"cold-workload"``
    (its workload unseen, its platform seen), ``"cold-platform"`` (the reverse),
    ``"cold-both"`` (neither seen) or ``"warm"``.

    The kind follows the row's target workload and platform; a co-runner does not change it,
    except that a row whose own workload and platform are seen but a co-runner is not counts
    as ``"cold-workload"`` (an unseen workload on a seen platform), so that a row is warm
    here exactly when :func:`cold_warm_groups` says warm. Mondrian calibration on these
    labels gives each row the margin of calibration rows of its own kind: errors grow from
    warm to one cold entity to two, so pooled margins would under-cover cold-both rows.
    """
    platform_cold = ~seen["platform"][objective.platform[rows]]
    workload_cold = ~seen["workload"][objective.workload[rows]]
    corunner_cold = cold_warm_groups(objective, rows, seen) == COLD
    corunner_cold &= ~platform_cold & ~workload_cold
    kinds = np.full(len(rows), WARM, dtype=object)
    kinds[workload_cold | corunner_cold] = COLD_WORKLOAD
    kinds[platform_cold] = COLD_PLATFORM
    kinds[platform_cold & workload_cold] = COLD_BOTH
    return kinds.astype(str)
