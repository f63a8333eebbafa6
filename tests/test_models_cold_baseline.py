"""A cold entity's baseline term from its features: ``select`` takes the trees where sparse
features decide the term by thresholds and the ridge regression where it is linear in them,
and a dropped measured entity gets the trees' out-of-fold term, not its own fit."""

from __future__ import annotations

import numpy as np
import pytest

from pitot_tf.models.cold_baseline import fit_feature_terms, ridge_out_of_fold
from pitot_tf.models.feature_trees import max_nodes, predict_trees


def _data(kind: str, rows: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "linear":  # dense features, a term linear in them
        features = rng.normal(size=(rows, 10)).astype(np.float32)
        return features, features @ rng.normal(size=10) + rng.normal(0, 0.1, rows)
    present = rng.random((rows, 40)) < 0.4  # sparse log counts, a threshold function
    features = np.where(present, rng.uniform(1, 15, (rows, 40)), 0.0).astype(np.float32)
    value = 3.0 * present[:, 0] + 2.0 * (features[:, 1] > 8) - 2.0 * present[:, 2] * present[:, 3]
    return features, value + rng.normal(0, 0.1, rows)


@pytest.mark.parametrize("kind, trees", [("linear", False), ("threshold", True)])
def test_select_takes_the_better_predictor(kind: str, trees: bool) -> None:
    features, values = _data(kind)
    observed = np.arange(len(values)) < 120
    fit = fit_feature_terms("select", values, features, observed, max_nodes(200), seed=0)
    assert fit.use_trees is trees
    new = fit.terms[~observed]
    error = np.sqrt(np.mean((new - values[~observed]) ** 2))
    other = fit_feature_terms("trees" if not trees else "ridge", values, features, observed,
                              max_nodes(200), seed=0).terms[~observed]
    assert error < np.sqrt(np.mean((other - values[~observed]) ** 2))


def test_measured_rows_get_out_of_fold_tree_terms() -> None:
    features, values = _data("threshold")
    observed = np.arange(len(values)) < 120
    fit = fit_feature_terms("trees", values, features, observed, max_nodes(200), seed=0)
    assert fit.trees is not None and fit.use_trees
    in_sample = predict_trees(fit.trees, features)
    np.testing.assert_allclose(fit.terms[~observed], in_sample[~observed], rtol=1e-6)
    own = np.abs(in_sample[observed] - values[observed]).mean()
    assert np.abs(fit.terms[observed] - values[observed]).mean() > 1.5 * own


def test_ridge_is_in_sample_and_has_no_trees() -> None:
    features, values = _data("linear")
    observed = np.arange(len(values)) < 120
    fit = fit_feature_terms("ridge", values, features, observed, max_nodes(200), seed=0)
    assert fit.trees is None and not fit.use_trees
    held = ridge_out_of_fold(values[observed], features[observed], seed=0)
    assert not np.allclose(held, fit.terms[observed])
