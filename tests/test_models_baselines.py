"""The reference's baselines (models/monolith.py, models/attention.py, models/side_features.py):
the fast layers equal a plain per-row implementation of the reference's formulas, padding
changes nothing, and they train under XLA and survive a save/load."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_support import resolve_small

from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.models import build_model, fit_baseline
from pitot_tf.models.attention import Attention
from pitot_tf.models.monolith import Monolith
from pitot_tf.presets import resolve
from pitot_tf.training import train

P, W, FP, FW = 5, 7, 3, 4
_erf = np.vectorize(math.erf)


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _fix_weights(layer: keras.layers.Layer, seed: int) -> None:
    """Every trainable weight set to fixed random values of about unit output scale."""
    rng = np.random.default_rng(seed)
    for weight in layer.trainable_weights:
        fan_in = weight.shape[0] if len(weight.shape) == 2 else 1
        weight.assign(rng.normal(0, 1 / math.sqrt(fan_in), weight.shape).astype("float32"))


def _mlp(mlp: keras.layers.Layer, x: np.ndarray) -> np.ndarray:
    """A plain MLP (float64) with ``mlp``'s weights: Dense, gelu, ..., Dense."""
    weights = [np.asarray(w.numpy(), np.float64) for w in mlp.trainable_weights]
    pairs = list(zip(weights[::2], weights[1::2], strict=True))
    for i, (kernel, bias) in enumerate(pairs):
        x = x @ kernel + bias
        if i < len(pairs) - 1:
            x = _gelu(x)
    return x


def _features(layer: keras.layers.Layer) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    f_p, f_w = rng.normal(size=(P, FP)), rng.normal(size=(W, FW))
    layer.set_features(f_p, f_w)
    return f_p.astype(np.float32).astype(np.float64), f_w.astype(np.float32).astype(np.float64)


def _batch() -> dict[str, np.ndarray]:
    interferers = np.array(
        [[-1, -1], [3, -1], [0, 6], [-1, 2], [1, 1], [-1, -1]], np.int32
    )
    return {
        "platform": np.array([0, 4, 2, 1, 3, 2], np.int32),
        "workload": np.array([6, 0, 5, 3, 2, 1], np.int32),
        "interferers": interferers,
    }


def _monolith_reference(layer: Monolith, f_p: np.ndarray, f_w: np.ndarray,
                        batch: dict[str, np.ndarray]) -> np.ndarray:
    """``pitot/monolith.py`` row by row."""
    out = []
    for p, w, co_runners in zip(*batch.values(), strict=True):
        y = _mlp(layer.alone, np.concatenate([f_p[p], f_w[w]]))
        for c in co_runners[co_runners >= 0]:
            y = y + _mlp(layer.beside, np.concatenate([f_p[p], f_w[w], f_w[c]]))
        out.append(y)
    return np.array(out)


def _attention_reference(layer: Attention, f_p: np.ndarray, f_w: np.ndarray,
                         batch: dict[str, np.ndarray]) -> np.ndarray:
    """``pitot/attention.py`` row by row (the output MLP only for rows with co-runners)."""
    a = layer.attention_dim
    out = []
    for p, w, co_runners in zip(*batch.values(), strict=True):
        query_y = _mlp(layer.query, np.concatenate([f_p[p], f_w[w]]))
        query, y = query_y[:a], query_y[a:]
        present = co_runners[co_runners >= 0]
        if len(present):
            attended = 0.0
            for c in present:
                key_value = _mlp(layer.key_value, np.concatenate([f_p[p], f_w[c]]))
                attended = attended + key_value[a:] * float(key_value[:a] @ query)
            y = y + _mlp(layer.output_mlp, attended)
        out.append(y)
    return np.array(out)


def test_monolith_equals_the_reference_formula() -> None:
    layer = Monolith(P, W, FP, FW, heads=2, layers=[16, 8])
    f_p, f_w = _features(layer)
    _fix_weights(layer, 1)
    batch = _batch()
    np.testing.assert_allclose(
        layer(**batch), _monolith_reference(layer, f_p, f_w, batch), rtol=1e-5, atol=1e-5
    )


def test_attention_equals_the_reference_formula() -> None:
    layer = Attention(P, W, FP, FW, heads=2, layers=[16, 8], attention_dim=3, value_dim=4,
                      output_layers=[5])
    f_p, f_w = _features(layer)
    _fix_weights(layer, 2)
    batch = _batch()
    np.testing.assert_allclose(
        layer(**batch), _attention_reference(layer, f_p, f_w, batch), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("kind", [Monolith, Attention])
def test_padding_and_slot_order_change_nothing(kind: type) -> None:
    layer = kind(P, W, FP, FW, layers=[8])
    _features(layer)
    _fix_weights(layer, 3)
    batch = _batch()
    wide = dict(batch, interferers=np.pad(batch["interferers"], ((0, 0), (0, 2)),
                                           constant_values=-1))
    swapped = dict(batch, interferers=batch["interferers"][:, ::-1].copy())
    none = dict(batch, interferers=np.zeros((6, 0), np.int32))
    np.testing.assert_allclose(layer(**wide), layer(**batch), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(layer(**swapped), layer(**batch), rtol=1e-6, atol=1e-6)
    # Rows with no co-runner: the same with zero slots as with padded slots.
    alone = np.all(batch["interferers"] < 0, axis=1)
    np.testing.assert_allclose(np.asarray(layer(**none))[alone],
                               np.asarray(layer(**batch))[alone], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("preset", ["baseline/monolith", "baseline/attention"])
def test_no_linear_scaling_baseline(synth_dataset: Dataset, preset: str) -> None:
    config = resolve(preset)
    assert config.model.baseline is False
    model = build_model(config, synth_dataset)
    fit_baseline(model, config, synth_dataset, make_split(synth_dataset, 0.5))
    baseline = model.get_layer("baseline")
    assert not np.any(baseline.platform_scale.numpy()) and not np.any(
        baseline.workload_scale.numpy())


def test_factorization_trains_on_the_matrix_only() -> None:
    config = resolve("baseline/factorization")
    assert config.objectives.interference_weight == 0.0
    assert config.model.interference == "ignore"


@pytest.mark.parametrize("preset", ["baseline/monolith", "baseline/attention"])
def test_trains_under_xla(synth_dataset: Dataset, preset: str,
                          fast_overrides: dict[str, object]) -> None:
    overrides = {**fast_overrides, "model.monolith_layers": [16, 16],
                 "model.attention_layers": [16, 16], "training.jit_compile": True}
    result = train(resolve_small(preset, overrides), synth_dataset, make_split(synth_dataset, 0.5))
    losses = result.history["train_loss"].to_numpy()
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


@pytest.mark.parametrize("preset", ["baseline/monolith", "baseline/attention"])
def test_save_load(synth_dataset: Dataset, preset: str, tmp_path: Path) -> None:
    config = resolve_small(preset, {"model.monolith_layers": [8], "model.attention_layers": [8]})
    model = build_model(config, synth_dataset)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    batch = {k: tf.constant(v) for k, v in _batch().items()}
    np.testing.assert_allclose(model(batch), loaded(batch), rtol=1e-6)
