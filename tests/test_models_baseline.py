"""The linear-scaling baseline: which rows it is fitted on, off, frozen or trainable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import make_split
from pitot_tf.models import build_model, fit_baseline
from pitot_tf.models.build import baseline_rows
from pitot_tf.presets import resolve

SMALL = {"model.layers": [16], "model.mf_dim": 8}


def _fitted(dataset: Dataset, overrides: dict[str, object]):  # type: ignore[no-untyped-def]
    config = resolve("pitot", {**SMALL, **overrides})
    split = make_split(dataset, 0.5)
    model = build_model(config, dataset)
    fit_baseline(model, config, dataset, split)
    return model.get_layer("baseline"), split


@pytest.mark.parametrize("fit, parts", [("train", ["train"]), ("train+val", ["train", "val"])])
def test_fitted_on_the_chosen_rows(synth_dataset: Dataset, fit: str, parts: list[str]) -> None:
    layer, split = _fitted(synth_dataset, {"model.baseline_fit": fit})
    rows = np.concatenate([split.rows("mf", p) for p in parts])
    np.testing.assert_array_equal(
        np.sort(baseline_rows(resolve("pitot", {"model.baseline_fit": fit}), split)),
        np.sort(rows))
    log_t = synth_dataset.objectives["mf"].log_runtime[rows]
    assert float(layer.offset.numpy()) == pytest.approx(float(log_t.mean()), rel=1e-5)


def test_validation_rows_do_not_move_the_default_fit(synth_dataset: Dataset) -> None:
    """Changing the validation targets changes a train+val fit but not the default one."""
    import dataclasses

    split = make_split(synth_dataset, 0.5)
    mf = synth_dataset.objectives["mf"]
    runtime = mf.runtime.copy()
    runtime[split.rows("mf", "val")] *= np.exp(3.0)
    objectives = {**synth_dataset.objectives, "mf": dataclasses.replace(mf, runtime=runtime)}
    shifted = dataclasses.replace(synth_dataset, objectives=objectives)
    for fit, moves in (("train", False), ("train+val", True)):
        config = resolve("pitot", {**SMALL, "model.baseline_fit": fit})
        offsets = []
        for data in (synth_dataset, shifted):
            model = build_model(config, data)
            fit_baseline(model, config, data, split)
            offsets.append(float(model.get_layer("baseline").offset.numpy()))
        assert (abs(offsets[1] - offsets[0]) > 0.5) is moves, fit


def test_no_baseline_means_no_intercept(synth_dataset: Dataset) -> None:
    layer, _ = _fitted(synth_dataset, {"model.baseline": False})
    for weight in (layer.platform_scale, layer.workload_scale, layer.offset):
        assert not np.any(weight.numpy()), weight.path


@pytest.mark.parametrize("trainable", [False, True])
def test_trainable_flag(synth_dataset: Dataset, trainable: bool) -> None:
    config = resolve("pitot", {**SMALL, "model.baseline_trainable": trainable})
    model = build_model(config, synth_dataset)
    names = {v.path.split("/")[-1] for v in model.trainable_variables}
    assert ({"platform_scale", "workload_scale", "offset"} <= names) is trainable
    assert not names & {"platform_regression", "workload_regression"}


def test_no_baseline_is_never_trained(synth_dataset: Dataset) -> None:
    config = resolve("pitot", {**SMALL, "model.baseline": False, "model.baseline_trainable": True})
    model = build_model(config, synth_dataset)
    assert not [v for v in model.trainable_variables if "baseline" in v.path]


def test_feature_regression_penalty_is_chosen_by_left_out_error() -> None:
    """With about as many features as rows, a small fixed penalty fits the observed rows and
    misses new ones; the penalty chosen by leave-one-out error predicts new rows better."""
    from pitot_tf.models.baseline import fit_from_features, predict_from_features

    rng = np.random.default_rng(0)
    features = rng.normal(size=(160, 60)) * 5
    values = features[:, :3].sum(axis=1) + rng.normal(size=160) * 3
    observed = np.arange(160) < 80
    error = {}
    for name, ridge in (("fixed", 1e-2), ("chosen", None)):
        coef = fit_from_features(values, features, observed, ridge)
        error[name] = np.mean((predict_from_features(coef, features)[~observed]
                               - values[~observed]) ** 2)
    assert error["chosen"] < 0.7 * error["fixed"]


def test_trees_give_unmeasured_rows_their_term_and_survive_saving(
    synth_dataset: Dataset, tmp_path: Path
) -> None:
    """``model.cold_baseline=trees``: a workload with no rows gets the forest's term, cold
    dropout's term of a measured one is out of fold (not its own fit), a new workload added
    by :func:`extend_model` gets the forest's term, and saving keeps the forest."""
    import keras

    from pitot_tf.data.cold import make_cold_split
    from pitot_tf.models.cold import extend_model

    config = resolve("pitot/cold", {**SMALL, "model.cold_baseline": "trees"})
    split = make_cold_split(synth_dataset, 1.0, mode="cold-workload")
    model = build_model(config, synth_dataset)
    fit_baseline(model, config, synth_dataset, split)
    layer = model.get_layer("baseline")
    features = synth_dataset.workloads.features
    terms = layer.feature_term("workload", features)
    measured = np.bincount(synth_dataset.objectives["mf"].workload[split.rows("mf", "train")],
                           minlength=len(features)) > 0
    scale, cold = layer.workload_scale.numpy(), layer.workload_cold_scale.numpy()
    np.testing.assert_allclose(scale[~measured], terms[~measured], rtol=1e-6)
    np.testing.assert_allclose(cold[~measured], terms[~measured], rtol=1e-6)
    assert np.abs(cold[measured] - terms[measured]).mean() > 0.01
    grown = extend_model(model, workload_features=features[:2])
    np.testing.assert_allclose(grown.get_layer("baseline").workload_scale.numpy()[-2:],
                               terms[:2], rtol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.get_layer("baseline").feature_term("workload", features),
                                  terms)


def test_ridge_is_the_default_and_a_bad_choice_is_rejected() -> None:
    from pitot_tf.config import Config, with_overrides
    from pitot_tf.errors import ConfigError

    assert resolve("pitot").model.cold_baseline == "ridge"
    with pytest.raises(ConfigError, match="model.cold_baseline must be one of"):
        with_overrides(Config(), {"model.cold_baseline": "forest"})
