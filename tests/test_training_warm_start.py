"""``training.init_from``: a run starts from a saved model's weights, whole where shapes agree
and as the first rows of a per-entity table that grew; anything else is a one-line error."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from model_support import TINY_PITOT

from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.errors import ConfigError
from pitot_tf.models.rows import RowWeight
from pitot_tf.presets import resolve
from pitot_tf.training import train
from pitot_tf.training.predict import predict_objective
from pitot_tf.training.warm_start import copy_weights


class Table(keras.layers.Layer):  # type: ignore[misc]
    """A per-workload table its layer declares per row, as the models' tables are."""

    def __init__(self, rows: int) -> None:
        super().__init__(name="table")
        self.embeddings = self.add_weight(shape=(rows, 3), initializer="random_normal",
                                          name="embeddings")

    def row_weights(self) -> list[RowWeight]:
        return [RowWeight(self.embeddings, "workload", "free")]

    def call(self, index: object) -> object:
        return keras.ops.take(self.embeddings, index, axis=0)


def table(rows: int) -> keras.Model:
    inputs = keras.Input((1,), dtype="int32")
    return keras.Model(inputs, Table(rows)(inputs))


def dense(features: int) -> keras.Model:
    return keras.Sequential([keras.Input((features,)), keras.layers.Dense(3, name="dense")])


def test_grown_tables_keep_the_trained_rows_first() -> None:
    source, target = table(4), table(6)
    fresh = target.weights[0].numpy().copy()
    copy_weights(source, target, "source.keras")
    copied = target.weights[0].numpy()
    np.testing.assert_array_equal(copied[:4], source.weights[0].numpy())
    np.testing.assert_array_equal(copied[4:], fresh[4:])


@pytest.mark.parametrize(("source", "message"), [
    (table(8), r"weight table/embeddings has shape \(8, 3\), this run's \(6, 3\)"),
    (keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)]),
     "it has 2 weights, this run's model 1"),
])
def test_models_that_do_not_fit_are_one_line_errors(source: keras.Model, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^training.init_from x.keras: {message}"):
        copy_weights(source, table(6), "x.keras")


def test_only_per_row_tables_may_grow() -> None:
    """A kernel whose first axis grew is a feature count that changed, not appended rows."""
    with pytest.raises(ConfigError, match=r"weight \S*dense/kernel has shape \(2, 3\), this run's "
                                          r"\(4, 3\)"):
        copy_weights(dense(2), dense(4), "x.keras")


def test_a_run_starts_from_the_saved_model(synth_dataset: Dataset, tmp_path: Path) -> None:
    """At a learning rate too small to move anything, a run from a saved model predicts what
    the saved model predicts; from scratch it does not."""
    split = make_split(synth_dataset, 0.5)
    trained = train(resolve("pitot", TINY_PITOT), synth_dataset, split).model
    trained.save(tmp_path / "trained.keras")
    still = {**TINY_PITOT, "training.steps": 2, "training.val_every": 1,
             "training.learning_rate": 1e-12, "training.weight_decay": 0.0}
    start = {**still, "training.init_from": str(tmp_path / "trained.keras")}
    again = train(resolve("pitot", start), synth_dataset, split).model
    fresh = train(resolve("pitot", still), synth_dataset, split).model
    expected = predict_objective(trained, synth_dataset, "mf")[1]
    np.testing.assert_allclose(predict_objective(again, synth_dataset, "mf")[1], expected,
                               rtol=1e-4, atol=1e-4)
    assert not np.allclose(predict_objective(fresh, synth_dataset, "mf")[1], expected, atol=1e-3)


def test_a_missing_model_is_a_config_error(synth_dataset: Dataset, tmp_path: Path) -> None:
    config = resolve("pitot", {**TINY_PITOT, "training.init_from": str(tmp_path / "none.keras")})
    with pytest.raises(ConfigError, match="^model '.*none.keras' not found"):
        train(config, synth_dataset, make_split(synth_dataset, 0.5))


def test_a_url_with_a_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="must not hold a password or token") as error:
        resolve("pitot", {"training.init_from": "https://me:hunter2@host/model.keras"})
    assert "hunter2" not in str(error.value)


def test_every_table_a_pitot_model_grows_by_is_declared_per_row(synth_dataset: Dataset) -> None:
    """Two workloads appended: each weight that grew takes the trained rows (none refused)."""
    from pitot_tf.models.build import build_model
    from pitot_tf.models.cold import extend_model

    model = build_model(resolve("pitot", TINY_PITOT), synth_dataset)
    grown = extend_model(model, workload_features=synth_dataset.workloads.features[:2])
    before = [w.numpy().copy() for w in grown.weights]
    copy_weights(model, grown, "x.keras")
    changed = [w.shape[0] - o.shape[0] for o, w in zip(model.weights, grown.weights,
                                                        strict=True) if o.shape != w.shape]
    assert changed and set(changed) == {2}
    for old, new, fresh in zip(model.weights, grown.weights, before, strict=True):
        if old.shape == new.shape:
            np.testing.assert_array_equal(new.numpy(), old.numpy())
            continue
        np.testing.assert_array_equal(new.numpy()[: old.shape[0]], old.numpy())
        np.testing.assert_array_equal(new.numpy()[old.shape[0]:], fresh[old.shape[0]:])
