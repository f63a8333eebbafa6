"""Looking inside a trained Pitot model: embeddings, interference strength, error by group.

* t-SNE of the tower outputs (``model_parts(model).pitot().embeddings()``): workloads coloured
  by suite (the name's prefix before ``/``), platforms by WebAssembly runtime (``runtime=``
  feature, else the name's prefix before ``:``) and by CPU micro-architecture (``uarch=``).
* Interference strength per platform against the measured slowdown. Ignoring the rectifier,
  Pitot's interference term for workload ``w`` beside co-runner ``i`` on platform ``p`` is
  ``Σ_k <x_w, Vs_p,k> <x_i, Vg_p,k> = x_wᵀ (Vs_pᵀ Vg_p) x_i`` with ``Vs_p, Vg_p`` of shape
  ``(k, d)``. The spectral norm ``‖Vs_pᵀ Vg_p‖₂`` is the largest log-slowdown that unit
  embeddings can produce on ``p``: how susceptible the platform is to interference. The
  measured slowdown of ``p`` is the geometric mean over its ``if2`` rows of ``t(w | i) /
  t(w alone)`` for the same (p, w).
* Test error (the paper's MAPE) by platform group (runtime, micro-architecture).

Every ``*_plot`` function draws from arrays or tables, so it can be tested on synthetic input.
"""

from __future__ import annotations

import keras
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure

from pitot_tf.conformal.groups import available_groupings, platform_groups
from pitot_tf.data.dataset import Axis, Dataset
from pitot_tf.data.splits import Split
from pitot_tf.errors import ConfigError
from pitot_tf.models.parts import MissingPart, model_parts
from pitot_tf.training.predict import predict_objective

FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]


def model_embeddings(model: keras.Model) -> dict[str, FloatArray]:
    """``workload (W, d)`` (first head), ``platform (P, d)``, ``susceptibility`` and
    ``pressure`` ``(P, k, d)`` of a Pitot model; ConfigError for another model kind."""
    try:
        layer = model_parts(model).pitot()
    except MissingPart as error:
        raise ConfigError(f"{error}; analysis needs a run of a pitot preset") from None
    workload, platform, v_s, v_g = (np.asarray(keras.ops.convert_to_numpy(x), np.float64)
                                    for x in layer.embeddings())
    return {"workload": workload[:, 0, :], "platform": platform,
            "susceptibility": v_s, "pressure": v_g}


def name_prefix(names: npt.ArrayLike, separator: str) -> StrArray:
    """The part of each name before ``separator`` (the whole name when absent)."""
    return np.asarray([str(n).split(separator, 1)[0] for n in np.asarray(names)], dtype=str)


def platform_labels(platforms: Axis, grouping: str, separator: str | None = None) -> StrArray:
    """Each platform's ``grouping`` (``runtime``/``uarch``) from its one-hot features, else
    its name's prefix before ``separator``, else "(unknown)"."""
    if grouping in available_groupings(platforms, (grouping,)):
        return platform_groups(platforms, grouping)
    if separator is not None:
        return name_prefix(platforms.names, separator)
    return np.full(len(platforms), "(unknown)", dtype=str)


def tsne_points(embedding: npt.ArrayLike, seed: int = 0) -> FloatArray:
    """2-D t-SNE of ``(n, d)`` points; perplexity scaled down for small ``n``."""
    from sklearn.manifold import TSNE

    points = np.asarray(embedding, dtype=np.float64)
    if len(points) < 3:
        return np.zeros((len(points), 2))
    perplexity = float(max(1.0, min(30.0, (len(points) - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return np.asarray(tsne.fit_transform(points), dtype=np.float64)


def tsne_plot(points: npt.ArrayLike, labels: npt.ArrayLike, title: str) -> Figure:
    """Scatter of 2-D points coloured by label (legend of up to 20 labels)."""
    xy, names = np.asarray(points, dtype=np.float64), np.asarray(labels).astype(str)
    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.add_subplot()
    groups = sorted(set(names.tolist()))
    for group in groups:
        mine = names == group
        ax.scatter(xy[mine, 0], xy[mine, 1], s=12, label=group)
    if 0 < len(groups) <= 20:
        ax.legend(fontsize=6, markerscale=1.5, loc="best")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def interference_norms(susceptibility: npt.ArrayLike, pressure: npt.ArrayLike) -> FloatArray:
    """``‖Vs_pᵀ Vg_p‖₂`` per platform from ``(P, k, d)`` arrays (see the module docstring)."""
    v_s, v_g = np.asarray(susceptibility, np.float64), np.asarray(pressure, np.float64)
    matrices = np.einsum("pkd,pke->pde", v_s, v_g)
    return np.asarray(np.linalg.norm(matrices, ord=2, axis=(1, 2)), dtype=np.float64)


def measured_slowdown(dataset: Dataset, objective: str = "if2") -> FloatArray:
    """Geometric-mean slowdown per platform: ``t(w beside others) / t(w alone)`` over the
    ``objective`` rows whose (platform, workload) was also measured alone; NaN where none."""
    if objective not in dataset.objectives or "mf" not in dataset.objectives:
        return np.full(len(dataset.platforms), np.nan)
    alone, paired = dataset.objectives["mf"], dataset.objectives[objective]
    n_workloads = len(dataset.workloads)
    log_alone: dict[int, float] = {}
    for key, value in zip(alone.platform * n_workloads + alone.workload, alone.log_runtime,
                          strict=True):
        log_alone.setdefault(int(key), float(value))
    keys = paired.platform * n_workloads + paired.workload
    base = np.array([log_alone.get(int(k), np.nan) for k in keys])
    log_ratio = pd.Series(np.asarray(paired.log_runtime) - base)
    mean = log_ratio.groupby(np.asarray(paired.platform)).mean()
    out = np.full(len(dataset.platforms), np.nan)
    out[mean.index.to_numpy(dtype=int)] = np.exp(mean.to_numpy())
    return out


def interference_plot(norms: npt.ArrayLike, slowdown: npt.ArrayLike,
                      labels: npt.ArrayLike | None = None) -> Figure:
    """Learned interference strength against measured mean slowdown, one point per platform,
    with the Spearman rank correlation in the title."""
    x, y = np.asarray(norms, np.float64), np.asarray(slowdown, np.float64)
    names = np.asarray(labels if labels is not None else ["platform"] * len(x)).astype(str)
    fig = Figure(figsize=(6, 4.5), layout="constrained")
    ax = fig.add_subplot()
    keep = np.isfinite(x) & np.isfinite(y)
    for group in sorted(set(names[keep].tolist())):
        mine = keep & (names == group)
        ax.scatter(x[mine], y[mine], s=14, label=group)
    rho = pd.Series(x[keep]).corr(pd.Series(y[keep]), method="spearman") if keep.sum() > 2 \
        else np.nan
    ax.set_title(f"Interference strength vs measured slowdown\n(Spearman ρ = {rho:.2f})")
    ax.set_xlabel("‖Vsᵀ Vg‖₂ (learned, per platform)")
    ax.set_ylabel("mean slowdown with a co-runner (×)")
    if keep.any() and len(set(names[keep].tolist())) <= 20:
        ax.legend(fontsize=6)
    return fig


def error_by_group(model: keras.Model, dataset: Dataset, split: Split | None = None
                   ) -> pd.DataFrame:
    """Test-row MAPE per platform group: ``objective, grouping, group, n, mape`` (all rows
    when ``split`` is None)."""
    records = []
    for name in dataset.objectives:
        rows = split.rows(name, "test") if split is not None else None
        log_true, log_pred = predict_objective(model, dataset, name, rows)
        with np.errstate(over="ignore"):
            errors = np.abs(np.expm1(np.asarray(log_true) - np.asarray(log_pred)[:, 0]))
        platform = dataset.objectives[name].platform
        platform = platform[rows] if rows is not None else platform
        for grouping in available_groupings(dataset.platforms) or ["platform"]:
            labels = platform_labels(dataset.platforms, grouping, ":")[platform]
            for group in sorted(set(labels.tolist())):
                mine = errors[labels == group]
                records.append({"objective": name, "grouping": grouping, "group": group,
                                "n": len(mine), "mape": float(np.mean(mine))})
    return pd.DataFrame(records, columns=["objective", "grouping", "group", "n", "mape"])


def error_by_group_plot(table: pd.DataFrame) -> Figure:
    """Bars of MAPE (%) per group, one panel per grouping, one bar colour per objective."""
    groupings = list(dict.fromkeys(table["grouping"])) or ["(none)"]
    fig = Figure(figsize=(5 * len(groupings), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(groupings), squeeze=False))[0]
    for ax, grouping in zip(axes, groupings, strict=True):
        rows = table[table["grouping"] == grouping]
        groups = sorted(set(rows["group"]))
        objectives = sorted(set(rows["objective"]))
        width = 0.8 / max(1, len(objectives))
        for i, objective in enumerate(objectives):
            mine = rows[rows["objective"] == objective].set_index("group")["mape"]
            heights = np.array([100 * mine.get(g, np.nan) for g in groups], dtype=np.float64)
            ax.bar(np.arange(len(groups)) + i * width,
                   np.where(np.isfinite(heights), heights, np.nan), width, label=objective)
        ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, groups, rotation=60,
                      ha="right", fontsize=7)
        ax.set_title(f"test MAPE by {grouping}")
        ax.set_ylabel("MAPE (%)")
        if objectives:
            ax.legend(fontsize=7)
    return fig


def analysis_figures(model: keras.Model, dataset: Dataset, split: Split | None = None,
                     seed: int = 0) -> dict[str, Figure]:
    """All analysis figures of a Pitot model, by file name."""
    embeddings = model_embeddings(model)
    suites = name_prefix(dataset.workloads.names, "/")
    workload_xy = tsne_points(embeddings["workload"], seed)
    platform_xy = tsne_points(embeddings["platform"], seed)
    runtimes = platform_labels(dataset.platforms, "runtime", ":")
    uarch = platform_labels(dataset.platforms, "uarch")
    norms = interference_norms(embeddings["susceptibility"], embeddings["pressure"])
    interfering = [n for n, o in dataset.objectives.items() if o.degree == 2]
    slowdown = measured_slowdown(dataset, interfering[0] if interfering else "if2")
    return {
        "tsne_workloads_suite.png": tsne_plot(workload_xy, suites, "Workload embeddings by suite"),
        "tsne_platforms_runtime.png": tsne_plot(platform_xy, runtimes,
                                                "Platform embeddings by runtime"),
        "tsne_platforms_uarch.png": tsne_plot(platform_xy, uarch,
                                              "Platform embeddings by CPU architecture"),
        "interference_norm.png": interference_plot(norms, slowdown, runtimes),
        "error_by_platform_group.png": error_by_group_plot(error_by_group(model, dataset, split)),
    }
