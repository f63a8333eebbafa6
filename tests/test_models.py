"""Models: shapes, gradients, the interference term's behaviour, baseline fit, save/load."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_support import resolve_small

from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.models import build_model, fit_baseline
from pitot_tf.models.baseline import fit_linear_scaling
from pitot_tf.presets import resolve

KINDS = [
    "pitot",
    "baseline/factorization",
    "baseline/monolith",
    "baseline/attention",
    "conformal/optimal",
    "features/blackbox",
    "components/ignore",
]


def _inputs(batch: int = 5, slots: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    interferers = rng.integers(0, 24, (batch, slots)).astype(np.int32)
    interferers[0] = -1
    return {
        "platform": rng.integers(0, 16, batch).astype(np.int32),
        "workload": rng.integers(0, 24, batch).astype(np.int32),
        "interferers": interferers,
    }


@pytest.mark.parametrize("preset", KINDS)
def test_shapes_and_gradients(synth_dataset: Dataset, preset: str) -> None:
    config = resolve_small(preset, {"model.layers": [16], "model.mf_dim": 8})
    model = build_model(config, synth_dataset)
    inputs = _inputs()
    with tf.GradientTape() as tape:
        out = model(inputs)
        loss = tf.reduce_sum(out**2)
    heads = max(1, len(config.model.quantiles))
    assert out.shape == (5, heads)
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None for g in grads)
    assert any(float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)


def test_interference_term(synth_dataset: Dataset) -> None:
    config = resolve("pitot", {"model.layers": [16], "model.mf_dim": 8})
    model = build_model(config, synth_dataset)
    layer = model.get_layer("pitot")
    inputs = _inputs(batch=4, slots=1)
    alone = dict(inputs, interferers=np.full((4, 1), -1, np.int32))
    no_slots = dict(inputs, interferers=np.zeros((4, 0), np.int32))
    ignore = build_model(
        resolve("components/ignore", {"model.layers": [16], "model.mf_dim": 8,
                                      "model.learned_features": 1}), synth_dataset
    )
    ignore.set_weights(model.get_weights())
    base = layer(alone["platform"], alone["workload"], alone["interferers"])
    # No co-runner (padding or zero slots) gives exactly the interference-free prediction.
    np.testing.assert_allclose(
        base, layer(no_slots["platform"], no_slots["workload"], no_slots["interferers"])
    )
    np.testing.assert_allclose(base, ignore.get_layer("pitot")(**alone), rtol=1e-6)
    # A co-runner changes it; a susceptible platform suffers more from a stronger interferer.
    paired = layer(inputs["platform"], inputs["workload"], inputs["interferers"])
    assert not np.allclose(base, paired)


def test_interference_grows_with_pressure(synth_dataset: Dataset) -> None:
    """Set the embeddings by hand: with positive susceptibility, more pressure, more slowdown."""
    config = resolve("features/blackbox", {"model.mf_dim": 2, "model.if_dim": 1})
    model = build_model(config, synth_dataset)
    layer = model.get_layer("pitot")
    w = np.zeros((24, 2), np.float32)
    w[0] = [1.0, 0.0]  # the victim
    w[1], w[2] = [0.0, 0.5], [0.0, 2.0]  # a weak and a strong interferer
    p = np.zeros((16, 2 + 2 * 2), np.float32)
    p[:, 2:4] = [1.0, 0.0]  # Vs: susceptibility = x_w[0]
    p[:, 4:6] = [0.0, 1.0]  # Vg: pressure = x_i[1]
    layer.workload_tower.table.assign(w)
    layer.platform_tower.table.assign(p)
    platform = np.zeros(3, np.int32)
    workload = np.zeros(3, np.int32)
    interferers = np.array([[-1], [1], [2]], np.int32)
    out = np.asarray(layer(platform, workload, interferers))[:, 0]
    assert out[0] == pytest.approx(0.0) and 0 < out[1] < out[2]
    assert out[2] == pytest.approx(2.0)


def test_linear_scaling_matches_least_squares() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=6), rng.normal(size=5)
    p, w = np.meshgrid(np.arange(6), np.arange(5), indexing="ij")
    keep = rng.random(p.shape) < 0.8
    keep[:, 0] = keep[0, :] = True
    p, w = p[keep], w[keep]
    y = a[p] + b[w] + 0.05 * rng.normal(size=len(p))
    fa, fb = fit_linear_scaling(y, p, w, (6, 5), tol=1e-10)
    design = np.zeros((len(y), 11))
    design[np.arange(len(y)), p] = 1
    design[np.arange(len(y)), 6 + w] = 1
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(fa[p] + fb[w], design @ coef, atol=1e-4)


def test_save_load_round_trip(synth_dataset: Dataset, tmp_path: Path) -> None:
    for preset in ("pitot", "baseline/attention", "baseline/monolith"):
        config = resolve_small(preset, {"model.layers": [16], "model.mf_dim": 8})
        model = build_model(config, synth_dataset)
        fit_baseline(model, config, synth_dataset, make_split(synth_dataset, 0.5))
        path = tmp_path / f"{preset.replace('/', '_')}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        inputs = _inputs()
        np.testing.assert_allclose(
            model.predict(inputs, verbose=0), loaded.predict(inputs, verbose=0), rtol=1e-6
        )
