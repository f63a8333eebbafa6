"""No config key is silently ignored: changing any key changes what a run produces.

For every key of :func:`pitot_tf.config.valid_keys` a tiny run on synthetic data is trained
with one changed (valid) value and compared with the same run at the default value: the
built model's weight shapes, its predictions after training, the trained weights or the
validation history must differ. A new key fails :func:`test_every_key_is_covered` until it
is added to ``CHANGES`` (or, with a reason, to ``EXEMPT``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pitot_tf.config import KIND_KEYS, SHARED_MODEL_KEYS, Config, applicable, valid_keys
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.presets import resolve
from pitot_tf.training import train
from pitot_tf.training.predict import predict_objective

#: Without XLA (``training.jit_compile``, exempt below): compiling would cost more than the
#: four steps.
TINY = {"training.steps": 4, "training.val_every": 2, "training.batch": 16,
        "training.jit_compile": False,
        "training.progress": False, "model.layers": [8], "model.mf_dim": 4,
        "model.monolith_layers": [8], "model.attention_layers": [8],
        "model.output_layers": [4]}

#: key -> a changed (valid) value. A ``model.*`` key is changed in a run of the first kind
#: that reads it (:func:`_context`).
CHANGES: dict[str, Any] = {
    "objectives.include": ["mf"],
    "objectives.matrix_weight": 2.0,
    "objectives.interference_weight": 1.0,
    "model.kind": "monolith",
    "model.mf_dim": 6,
    "model.if_dim": 3,
    "model.if_slope": 0.5,
    "model.interference": "ignore",
    "model.interference_form": "reference",
    "model.workload_tower": "embedding",
    "model.platform_tower": "embedding",
    "model.learned_features": 3,
    "model.layers": [8, 8],
    "model.activation": "relu",
    "model.baseline": False,
    "model.baseline_trainable": False,
    "model.baseline_fit": "train+val",
    "model.quantiles": [0.5, 0.9],
    "model.loss": "percent",
    "model.monolith_layers": [8, 8],
    "model.attention_layers": [8, 8],
    "model.attention_dim": 4,
    "model.value_dim": 4,
    "model.output_layers": [4, 4],
    "model.cold_dropout": 0.5,
    "model.cold_baseline": "trees",
    "training.steps": 6,
    "training.val_every": 1,
    "training.batch": 8,
    "training.optimizer": "adam",
    "training.learning_rate": 1e-2,
    "training.warmup": 2,
    "training.decay_steps": 2,
    "training.beta_1": 0.5,
    "training.beta_2": 0.9,
    "training.weight_decay": 0.5,
    "training.ensemble": 2,
    "training.ensemble_share": "towers",
    "training.snapshots": 2,
    "training.snapshot_members": 1,
    "training.block_platforms": 4,
    "training.block_workloads": 6,
    "training.ema": 0.5,
    "seed": 7,
}
#: Keys that act only beside another setting: changed in a run with that setting.
NEEDS: dict[str, dict[str, Any]] = {
    "training.ensemble_share": {"training.ensemble": 2},
    "training.snapshot_members": {"training.snapshots": 2},
    # Trains the cold-dropped entities' baseline terms (and predicts unseen ones).
    "model.cold_baseline": {"model.cold_dropout": 0.5},
}
EXEMPT = {
    "training.progress": "only shows or hides the progress bar",
    "training.jit_compile": "compiles the same maths with XLA or not: speed, not results",
    "model.tower_rows": "runs the towers on every entity or on the batch's rows: speed, not "
                        "results (tests/test_models_tower_rows.py checks they agree)",
    "training.init_from": "names a saved model, which a static value cannot: "
                          "tests/test_training_warm_start.py checks a run starts from it",
}


def test_every_key_is_covered() -> None:
    assert set(CHANGES) | set(EXEMPT) == set(valid_keys())
    assert not set(CHANGES) & set(EXEMPT)


def _context(key: str) -> dict[str, Any]:
    """Where ``key`` acts: a run of the first kind (registry order) whose
    :data:`~pitot_tf.config.KIND_KEYS` hold it, a run with its :data:`NEEDS`, or
    the default run for other keys."""
    if key in NEEDS:
        return dict(NEEDS[key])
    name = key.removeprefix("model.")
    if not key.startswith("model.") or name in SHARED_MODEL_KEYS:
        return {}
    kind = next(kind for kind, keys in KIND_KEYS.items() if name in keys)
    return {} if kind == Config().model.kind else {"model.kind": kind}


def test_every_change_applies_in_its_context() -> None:
    for key in CHANGES:
        context = _context(key)
        assert resolve("pitot", {**context, key: CHANGES[key]}).flat()[key] == CHANGES[key]


def _outcome(dataset: Dataset, overrides: dict[str, Any]) -> dict[str, Any]:
    """What a reader could observe of a run: weight shapes, trained weights, predictions
    and the validation history. ``TINY`` keeps the model small whatever its kind."""
    kind = str(overrides.get("model.kind", Config().model.kind))
    config = resolve("pitot", {**applicable(TINY, kind), **overrides})
    result = train(config, dataset, make_split(dataset, 0.5))
    weights = result.model.get_weights()
    return {
        "shapes": [w.shape for w in weights],
        "weights": weights,
        "predictions": [predict_objective(result.model, dataset, name)[1]
                        for name in ("mf", "if2")],
        "history": result.history.to_numpy(),
        "columns": list(result.history.columns),
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a["shapes"] != b["shapes"] or a["columns"] != b["columns"]:
        return False
    arrays = [(x, y) for k in ("weights", "predictions") for x, y in zip(a[k], b[k], strict=True)]
    arrays.append((a["history"], b["history"]))
    return all(x.shape == y.shape and np.array_equal(x, y) for x, y in arrays)


_BASES: dict[str, dict[str, Any]] = {}


def _base(dataset: Dataset, context: dict[str, Any]) -> dict[str, Any]:
    """The run at default values in ``context``, trained once per context (twice, to check
    that it is reproducible, which the comparison relies on)."""
    name = repr(sorted(context.items()))
    if name not in _BASES:
        _BASES[name] = _outcome(dataset, context)
        assert _same(_BASES[name], _outcome(dataset, context)), "base run not reproducible"
    return _BASES[name]


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(CHANGES))
def test_changing_a_key_changes_the_run(synth_dataset: Dataset, key: str) -> None:
    value, context = CHANGES[key], _context(key)
    base = _base(synth_dataset, context)
    assert not _same(base, _outcome(synth_dataset, {**context, key: value})), key
