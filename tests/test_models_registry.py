"""The model kind registry (models/registry.py) and declared row-indexed weights (models/rows.py):
every kind builds from its entry, config and search accept what the registry and the config
types say, and cold start extends every kind's declared per-row weights (and refuses others)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
from model_support import resolve_small

from pitot_tf.config import model_kinds
from pitot_tf.data.dataset import Dataset
from pitot_tf.errors import ConfigError
from pitot_tf.models import build_model
from pitot_tf.models.cold import extend_model, neutralize_unseen
from pitot_tf.models.parts import model_parts
from pitot_tf.models.registry import KINDS
from pitot_tf.models.rows import model_row_weights
from pitot_tf.presets import resolve
from pitot_tf.search.space import layer_keys

SMALL = {"model.layers": [8], "model.monolith_layers": [8], "model.attention_layers": [8],
         "model.mf_dim": 4}


def test_config_accepts_exactly_the_registered_kinds() -> None:
    assert model_kinds() == tuple(KINDS) == ("pitot", "monolith", "attention")
    with pytest.raises(ConfigError, match="model.kind must be one of"):
        resolve("pitot", {"model.kind": "transformer"})


def test_layer_keys_come_from_the_config_types() -> None:
    assert set(layer_keys()) == {"model.layers", "model.monolith_layers",
                                 "model.attention_layers", "model.output_layers"}


def _inputs(dataset: Dataset) -> dict[str, np.ndarray]:
    n = 4
    return {"platform": np.arange(n, dtype=np.int32), "workload": np.arange(n, dtype=np.int32),
            "interferers": np.array([[-1], [2], [3], [-1]], np.int32)}


@pytest.mark.parametrize("preset", ["pitot", "features/blackbox", "baseline/monolith",
                                    "baseline/attention"])
def test_every_growing_weight_is_declared(synth_dataset: Dataset, preset: str) -> None:
    model = build_model(resolve_small(preset, SMALL), synth_dataset)
    declared = model_row_weights(model)
    assert declared and all(r.weight.shape[0] == {"platform": len(synth_dataset.platforms),
                                                  "workload": len(synth_dataset.workloads)}
                            [r.axis] for r in declared.values())
    new_p = synth_dataset.platforms.features[:2] + 0.1
    new_w = synth_dataset.workloads.features[:1] - 0.1
    grown = extend_model(model, platform_features=new_p, workload_features=new_w)
    inputs = _inputs(synth_dataset)
    np.testing.assert_allclose(grown(inputs), model(inputs), rtol=1e-6, atol=1e-6)
    changed = {id(old) for old, new in zip(model.weights, grown.weights, strict=True)
               if old.shape != new.shape}
    assert changed == set(declared)


@keras.saving.register_keras_serializable(package="pitot_tf_test")
class _Undeclared(keras.layers.Layer):
    """A row-indexed weight that no ``row_weights()`` names."""

    def __init__(self, platforms: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.platforms = platforms
        self.table = self.add_weight(shape=(platforms, 2), name="table")

    def row_weights(self) -> list[Any]:
        return []  # forgets its table

    def call(self, platform: Any) -> Any:
        return keras.ops.take(self.table, platform, axis=0)

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "platforms": self.platforms}


def test_an_undeclared_row_weight_is_an_error(synth_dataset: Dataset) -> None:
    model = build_model(resolve_small("pitot", SMALL), synth_dataset)
    platform = keras.Input(shape=(), dtype="int32", name="platform")
    # One baseline plus one interaction layer, as every model is.
    outputs = [_Undeclared(len(synth_dataset.platforms))(platform),
               model_parts(model).baseline(platform, platform)]
    odd = keras.Model(platform, outputs)
    with pytest.raises(ValueError, match="no layer declares it"):
        extend_model(odd, platform_features=synth_dataset.platforms.features[:1])


def test_neutralize_sets_unseen_free_rows_to_the_seen_mean(synth_dataset: Dataset) -> None:
    model = build_model(resolve_small("features/blackbox", SMALL), synth_dataset)
    seen = {"platform": np.arange(len(synth_dataset.platforms)) % 2 == 0,
            "workload": np.ones(len(synth_dataset.workloads), bool)}
    table = model_parts(model).pitot().platform_tower.table
    before = np.array(table.numpy())
    neutralize_unseen(model, seen)
    after = table.numpy()
    np.testing.assert_allclose(after[seen["platform"]], before[seen["platform"]])
    np.testing.assert_allclose(after[~seen["platform"]][0],
                               before[seen["platform"]].mean(axis=0), rtol=1e-6)
