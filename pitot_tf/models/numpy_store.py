"""Save and load :class:`~pitot_tf.models.numpy_predictor.NumpyPitot` as plain files.

Two files: an ``.npz`` of every array (tables, baseline terms, the workload and platform towers'
MLP weights, the baselines' feature predictors), read with ``allow_pickle=False``, and a JSON
layout (format version, equation, each tower's layout and activations, which arrays are
present). Tables saved before platforms could be added (no ``platform_towers`` in the layout)
load without them: :meth:`NumpyPitot.with_platforms` then says so. Only numpy and the standard
library are needed to read them back: this is what the logged ``pyfunc-model`` carries instead
of the Keras model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from pitot_tf.errors import PredictionError
from pitot_tf.models.fold_in import FoldInPrior
from pitot_tf.models.interference import Equation, PitotTables, TowerLayout
from pitot_tf.models.numpy_mlp import ACTIVATIONS, DenseStack
from pitot_tf.models.numpy_new_rows import FeatureBaseline, NewPlatforms, NewTower, NewWorkloads
from pitot_tf.models.numpy_predictor import NumpyPitot

FORMAT = 1
ARRAYS_FILE = "tables.npz"
LAYOUT_FILE = "tables.json"
_TABLES = [field.name for field in dataclasses.fields(PitotTables)]


def save_tables(tables: NumpyPitot, folder: Path) -> tuple[Path, Path]:
    """Write ``tables`` into ``folder``; the ``.npz`` and JSON paths."""
    arrays: dict[str, np.ndarray] = {
        name: getattr(tables.tables, name) for name in _TABLES
        if getattr(tables.tables, name) is not None}
    arrays.update(platform_scale=tables.platform_scale, workload_scale=tables.workload_scale,
                  offset=tables.offset)
    new = tables.new_workloads
    layout: dict[str, Any] = {
        "format": FORMAT, "equation": dataclasses.asdict(tables.equation),
        "prior_noise": {axis: p.noise for axis, p in tables.fold_in_priors.items()},
        "feature_dim": new.feature_dim, "baselines": len(new.baselines),
        "towers": _save_side(new, "", arrays)}
    if tables.new_platforms is not None:
        layout.update(platform_feature_dim=tables.new_platforms.feature_dim,
                      platform_towers=_save_side(tables.new_platforms, "platform_", arrays))
    for axis, prior in tables.fold_in_priors.items():
        arrays[f"prior_{axis}"] = prior.covariance
    folder.mkdir(parents=True, exist_ok=True)
    save: Any = np.savez  # numpy's stubs do not type the arrays passed by name
    save(folder / ARRAYS_FILE, **{k: np.asarray(v, np.float32) for k, v in arrays.items()})
    (folder / LAYOUT_FILE).write_text(json.dumps(layout, indent=1))
    return folder / ARRAYS_FILE, folder / LAYOUT_FILE


def _save_side(new: NewWorkloads | NewPlatforms, prefix: str,
               arrays: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Put one axis' towers and feature baselines into ``arrays`` (names start with
    ``prefix``); the towers' layout entries."""
    towers = []
    for i, tower in enumerate(new.towers):
        towers.append({"layout": dataclasses.asdict(tower.layout),
                       "activations": None if tower.mlp is None else list(tower.mlp.activations)})
        if tower.mlp is not None:
            arrays.update(tower.mlp.arrays(f"{prefix}tower{i}_"))
        for name in ("neutral", "mean", "scale"):
            if getattr(tower, name) is not None:
                arrays[f"{prefix}tower{i}_{name}"] = getattr(tower, name)
    for i, base in enumerate(new.baselines):
        arrays[f"{prefix}baseline{i}_coef"] = base.coef
        if base.trees is not None:
            arrays[f"{prefix}baseline{i}_trees"] = base.trees
    return towers


def load_tables(arrays_file: str | Path, layout_file: str | Path) -> NumpyPitot:
    """The tables :func:`save_tables` wrote; PredictionError naming the file if they are not
    such tables (another format, a missing array, an unknown activation)."""
    layout = json.loads(Path(layout_file).read_text())
    if layout.get("format") != FORMAT:
        raise PredictionError(f"{layout_file}: table format {layout.get('format')!r}, "
                              f"this version reads {FORMAT}")
    with np.load(arrays_file, allow_pickle=False) as stored:
        arrays = {name: np.asarray(stored[name]) for name in stored.files}
    try:
        return _tables(arrays, layout)
    except KeyError as missing:
        raise PredictionError(f"{arrays_file}: array {missing} is missing") from None


def _tables(arrays: dict[str, np.ndarray], layout: dict[str, Any]) -> NumpyPitot:
    towers, baselines = _side(arrays, layout["towers"], int(layout["baselines"]), "")
    new_platforms = None
    if "platform_towers" in layout:
        infos = layout["platform_towers"]
        new_platforms = NewPlatforms(*_side(arrays, infos, int(layout["baselines"]), "platform_"),
                                     int(layout["platform_feature_dim"]))
    return NumpyPitot(
        tables=PitotTables(**{name: arrays.get(name) for name in _TABLES}),
        equation=Equation(**layout["equation"]),
        platform_scale=arrays["platform_scale"], workload_scale=arrays["workload_scale"],
        offset=arrays["offset"],
        new_workloads=NewWorkloads(towers, baselines, int(layout["feature_dim"])),
        fold_in_priors={axis: FoldInPrior(arrays[f"prior_{axis}"].astype(np.float64), noise)
                        for axis, noise in layout.get("prior_noise", {}).items()},
        new_platforms=new_platforms)


def _side(arrays: dict[str, np.ndarray], infos: list[dict[str, Any]], baselines: int,
          prefix: str) -> tuple[tuple[NewTower, ...], tuple[FeatureBaseline, ...]]:
    """One axis' towers and feature baselines, as :func:`_save_side` stored them."""
    towers = tuple(_tower(arrays, i, info, prefix) for i, info in enumerate(infos))
    return towers, tuple(FeatureBaseline(arrays[f"{prefix}baseline{i}_coef"],
                                         arrays.get(f"{prefix}baseline{i}_trees"))
                         for i in range(baselines))


def _tower(arrays: dict[str, np.ndarray], index: int, info: dict[str, Any],
           prefix: str = "") -> NewTower:
    name = f"{prefix}tower{index}"
    activations = info["activations"]
    unknown = [a for a in activations or [] if a not in ACTIVATIONS]
    if unknown:
        raise PredictionError(f"{prefix.replace('_', ' ')}tower {index}: activation "
                              f"{unknown[0]!r} has no numpy version")
    mlp = None if activations is None else DenseStack.from_arrays(arrays, f"{name}_", activations)
    return NewTower(TowerLayout(**info["layout"]), mlp, arrays.get(f"{name}_neutral"),
                    arrays.get(f"{name}_mean"), arrays.get(f"{name}_scale"))
