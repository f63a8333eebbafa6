"""Extremely randomized trees packed into arrays: the same predictions as scikit-learn's, an
honest out-of-fold estimate, and better than a ridge regression where sparse features decide
the value by thresholds (the opcode counts of workloads)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import ExtraTreesRegressor

from pitot_tf.models.baseline import fit_from_features, predict_from_features
from pitot_tf.models.feature_trees import (
    MAX_FEATURES,
    MIN_LEAF,
    TREES,
    fit_trees,
    max_nodes,
    out_of_fold,
    predict_trees,
)


def _sparse_counts(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Log counts of 40 "opcodes", most absent, and a value set by which are present and
    how often: a threshold function (as a program's size is) plus a little noise."""
    rng = np.random.default_rng(seed)
    present = rng.random((rows, 40)) < 0.4
    features = np.where(present, rng.uniform(1, 15, (rows, 40)), 0.0).astype(np.float32)
    value = 3.0 * present[:, 0] + 2.0 * (features[:, 1] > 8) - 2.0 * present[:, 2] * present[:, 3]
    return features, value + rng.normal(0, 0.1, rows)


def test_packed_forest_predicts_as_scikit_learn() -> None:
    features, values = _sparse_counts(120, 0)
    packed = fit_trees(values[:100], features[:100], max_nodes(100), seed=7)
    reference = ExtraTreesRegressor(TREES, max_features=MAX_FEATURES, min_samples_leaf=MIN_LEAF,
                                    random_state=7).fit(features[:100], values[:100])
    np.testing.assert_allclose(predict_trees(packed, features), reference.predict(features),
                               atol=1e-4)


def test_too_few_rows_give_their_mean() -> None:
    features, values = _sparse_counts(3, 1)
    packed = fit_trees(values, features, max_nodes(3), seed=0)
    np.testing.assert_allclose(predict_trees(packed, features), values.mean(), rtol=1e-6)


def test_trees_beat_ridge_on_threshold_features() -> None:
    features, values = _sparse_counts(300, 2)
    seen = np.arange(300) < 150
    packed = fit_trees(values[seen], features[seen], max_nodes(150), seed=0)
    coef = fit_from_features(values, features, seen)
    trees = np.sqrt(np.mean((predict_trees(packed, features)[~seen] - values[~seen]) ** 2))
    ridge = np.sqrt(np.mean((predict_from_features(coef, features)[~seen] - values[~seen]) ** 2))
    assert trees < 0.6 * ridge, (trees, ridge)


def test_out_of_fold_is_as_honest_as_new_rows() -> None:
    """In sample the forest nearly reproduces each row; out of fold its error is that of rows
    it never saw, which is what cold dropout must train on."""
    features, values = _sparse_counts(300, 3)
    seen = np.arange(300) < 150
    packed = fit_trees(values[seen], features[seen], max_nodes(150), seed=0)
    new = np.sqrt(np.mean((predict_trees(packed, features)[~seen] - values[~seen]) ** 2))
    inside = np.sqrt(np.mean((predict_trees(packed, features)[seen] - values[seen]) ** 2))
    held = out_of_fold(values[seen], features[seen], max_nodes(150), seed=0)
    honest = np.sqrt(np.mean((held - values[seen]) ** 2))
    assert inside < 0.7 * new
    assert 0.7 * new < honest < 1.5 * new, (inside, honest, new)


def test_predicting_from_packed_trees_needs_no_scikit_learn() -> None:
    """Only fitting imports scikit-learn: a model (or a served one) that predicts from its
    packed trees does not pay for it."""
    import subprocess
    import sys

    code = ("import sys, pitot_tf.models.feature_trees as t, numpy as np\n"
            "t.predict_trees(t.empty_trees(3), np.zeros((2, 4)))\n"
            "print('sklearn' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
