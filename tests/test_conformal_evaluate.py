"""Conformal evaluation on a synthetic dataset with a model whose predictions are known.

The "model" looks up the noise-free log runtime of each (platform, workload) cell from the
dataset's truth (plus a fixed per-head offset), so every residual and margin can be recomputed
here by hand from the data.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from pitot_tf.conformal import DEFAULT_ALPHAS, ConformalUpperBound
from pitot_tf.conformal.evaluate import (
    ALL_GROUPS,
    BOUNDS_FILE,
    COLD_GROUPING,
    GROUPS_FILE,
    TABLE_FILE,
    evaluate,
    supported_alphas,
)
from pitot_tf.conformal.groups import NO_GROUP, cold_kinds, one_hot_kinds, platform_groups
from pitot_tf.data.cold import make_cold_split, seen_entities
from pitot_tf.data.dataset import Axis, Dataset, load_dataset
from pitot_tf.data.splits import Split, make_split
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.errors import ConformalError


def lookup_model(log_t: np.ndarray, offsets: list[float], jitter: float = 0.0) -> keras.Model:
    """A model predicting ``log_t[p, w] + offsets[h]`` for head ``h`` (co-runners ignored);
    heads after the first also get ``jitter`` times a fixed random number per cell."""
    n_platforms, n_workloads = log_t.shape
    table = log_t.reshape(-1, 1) + np.asarray(offsets)[None, :]
    noise = np.random.default_rng(1).normal(size=table.shape)
    table[:, 1:] += jitter * noise[:, 1:]
    platform = keras.Input(shape=(), dtype="int32", name="platform")
    workload = keras.Input(shape=(), dtype="int32", name="workload")
    interferers = keras.Input(shape=(None,), dtype="int32", name="interferers")
    cell = platform * n_workloads + workload
    lookup = keras.layers.Embedding(
        n_platforms * n_workloads, len(offsets), trainable=False,
        embeddings_initializer=keras.initializers.Constant(table))
    unused = keras.ops.sum(keras.ops.cast(interferers, "float32"), axis=1, keepdims=True) * 0.0
    return keras.Model(
        {"platform": platform, "workload": workload, "interferers": interferers},
        lookup(cell) + unused)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Split, np.ndarray]:
    root = tmp_path_factory.mktemp("synth")
    synthesize_dataset(root, platforms=30, workloads=50, density=0.7, noise=0.1)
    dataset = load_dataset(root)
    truth = np.load(root / "truth.npz")["log_t_matrix"]
    return dataset, make_split(dataset, 0.5, 0), truth


@pytest.fixture(scope="module")
def two_heads(data: tuple[Dataset, Split, np.ndarray]):  # type: ignore[no-untyped-def]
    dataset, split, truth = data
    return evaluate(lookup_model(truth, [0.0, 0.3], jitter=0.2), dataset, split)


def residuals(dataset: Dataset, truth: np.ndarray, objective: str, rows: np.ndarray) -> np.ndarray:
    obs = dataset.objectives[objective].take(rows)
    return obs.log_runtime - truth[obs.platform, obs.workload]


def test_margin_and_coverage_match_a_hand_computation(data, two_heads) -> None:  # type: ignore[no-untyped-def]
    dataset, split, truth = data
    val = residuals(dataset, truth, "mf", split.rows("mf", "val"))
    test = residuals(dataset, truth, "mf", split.rows("mf", "test"))
    k = math.ceil((1 - 0.05) * (len(val) + 1))
    margin = np.sort(val)[k - 1]
    row = two_heads.table.query("objective == 'mf' and split == 'test' and alpha == 0.05 "
                                "and head == 0").iloc[0]
    # the model computes in float32: compare to about 1e-6
    assert row["margin"] == pytest.approx(margin, abs=1e-5)
    assert row["coverage"] == pytest.approx(np.mean(test <= margin), abs=1 / len(test))
    assert row["width"] == pytest.approx(np.mean(np.abs(np.expm1(test - margin))), abs=1e-5)
    assert row["mape"] == pytest.approx(np.mean(np.abs(np.expm1(test))), abs=1e-5)
    assert row["n_calibration"] == len(val) and row["n"] == len(test)


def test_every_head_is_reported_and_the_tighter_one_chosen(two_heads) -> None:  # type: ignore[no-untyped-def]
    test = two_heads.table.query("split == 'test'")
    assert set(test["head"]) == {0, 1}
    assert len(test) == 2 * 2 * 10  # objectives × heads × alphas
    assert test.groupby(["objective", "alpha"])["chosen"].sum().eq(1).all()
    # head 1 is shifted up by 0.3 and blurred: a lower margin but a looser bound
    val = two_heads.table.query("split == 'val' and objective == 'mf'")
    for _, rows in val.groupby("alpha"):
        rows = rows.set_index("head")
        assert rows.loc[1, "margin"] < rows.loc[0, "margin"]
        assert rows.loc[0, "chosen"] == (rows.loc[0, "width"] <= rows.loc[1, "width"])
    assert test.query("head == 0")["chosen"].all()


def test_metrics_have_stable_names_and_match_the_table(two_heads) -> None:  # type: ignore[no-untyped-def]
    found = two_heads.metrics()
    for objective in ("mf", "if2"):
        for alpha in ("0.1", "0.05", "0.01"):
            assert f"test_{objective}_coverage_{alpha}" in found
            assert f"test_{objective}_width_{alpha}" in found
        assert f"val_{objective}_mape" in found and f"val_{objective}_width_0.05" in found
    summary = two_heads.summary().set_index(["objective", "alpha"])
    assert found["test_if2_width_0.05"] == pytest.approx(summary.loc[("if2", 0.05), "width"])
    assert found["test_mf_mape"] == pytest.approx(summary.loc[("mf", 0.1), "mape"])
    assert list(summary.index.get_level_values("alpha").unique()) == [0.1, 0.05, 0.01]


def test_mondrian_margins_are_per_group_quantiles(data, two_heads) -> None:  # type: ignore[no-untyped-def]
    dataset, split, truth = data
    labels = platform_groups(dataset.platforms, "runtime")
    rows = split.rows("mf", "val")
    val = residuals(dataset, truth, "mf", rows)
    groups = labels[dataset.objectives["mf"].platform[rows]]
    table = two_heads.groups.query("objective == 'mf' and grouping == 'runtime' and alpha == 0.1")
    mondrian = table.query("bound == 'mondrian'").set_index("group")
    for group in sorted(set(groups)):
        own = np.sort(val[groups == group])
        k = math.ceil(0.9 * (len(own) + 1))
        assert mondrian.loc[group, "margin"] == pytest.approx(own[k - 1], abs=1e-5)
        assert not mondrian.loc[group, "pooled_fallback"]
    plain = table.query("bound == 'plain'").set_index("group")
    assert plain["margin"].nunique() == 1 and plain["pooled_fallback"].all()
    assert plain.loc[ALL_GROUPS, "n"] == len(split.rows("mf", "test"))


def test_groups_too_small_for_alpha_fall_back_to_the_pooled_margin(two_heads) -> None:  # type: ignore[no-untyped-def]
    # about 26 validation rows per runtime: alpha = 0.01 needs 99, so every group falls back
    at = two_heads.groups.query("objective == 'mf' and grouping == 'runtime' and alpha == 0.01")
    mondrian = at.query("bound == 'mondrian'")
    plain = at.query("bound == 'plain'")
    assert mondrian["pooled_fallback"].all()
    assert mondrian["coverage"].tolist() == plain["coverage"].tolist()


def test_unsupported_alphas_are_left_out_and_noted(data) -> None:  # type: ignore[no-untyped-def]
    dataset, _, truth = data
    small = make_split(dataset, 0.2, 0)  # about 40 validation rows: alpha >= 1/41 only
    result = evaluate(lookup_model(truth, [0.0]), dataset, small, groupings=[])
    n_val = len(small.rows("mf", "val"))
    expected = supported_alphas(DEFAULT_ALPHAS, n_val)
    assert 0.01 not in expected and 0.05 in expected
    assert set(result.table["alpha"]) == set(expected)
    assert "test_mf_coverage_0.01" not in result.metrics()
    assert any("mf: alpha" in note for note in result.notes)
    assert result.groups.empty


def test_an_objective_without_validation_rows_is_skipped(data) -> None:  # type: ignore[no-untyped-def]
    dataset, split, truth = data
    parts = {name: dict(p) for name, p in split.parts.items()}
    parts["if2"]["val"] = np.zeros(0, np.int64)
    result = evaluate(lookup_model(truth, [0.0]), dataset, Split(parts))
    assert set(result.table["objective"]) == {"mf"}
    assert any(note.startswith("if2: skipped") for note in result.notes)
    parts["mf"]["val"] = np.zeros(0, np.int64)
    with pytest.raises(ConformalError, match="no objective could be evaluated"):
        evaluate(lookup_model(truth, [0.0]), dataset, Split(parts))


def test_save_writes_tables_and_reloadable_bounds(two_heads, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paths = two_heads.save(tmp_path)
    assert [p.name for p in paths] == [TABLE_FILE, GROUPS_FILE, BOUNDS_FILE]
    table = pd.read_csv(tmp_path / TABLE_FILE)
    assert len(table) == len(two_heads.table)
    assert table["coverage"].to_numpy() == pytest.approx(two_heads.table["coverage"].to_numpy())
    assert len(pd.read_csv(tmp_path / GROUPS_FILE)) == len(two_heads.groups)
    states = json.loads((tmp_path / BOUNDS_FILE).read_text())
    bound = ConformalUpperBound.from_dict(states["if2"])
    pred = two_heads.predictions["if2"].test_pred
    expected = two_heads.bounds["if2"].upper_bound(pred, 0.05)
    assert bound.upper_bound(pred, 0.05) == pytest.approx(expected)


def test_test_runtimes_are_seconds(two_heads) -> None:  # type: ignore[no-untyped-def]
    true_s, pred_s, bound_s = two_heads.test_runtimes("mf", 0.05)
    log_true = two_heads.predictions["mf"].test_true
    assert two_heads.unit == "ns"  # synthetic data; log runtimes are of its unit
    assert true_s == pytest.approx(np.exp(log_true) / 1e9)
    assert np.mean(true_s <= bound_s) == pytest.approx(
        two_heads.summary().set_index(["objective", "alpha"]).loc[("mf", 0.05), "coverage"])
    margin = two_heads.summary().set_index(["objective", "alpha"]).loc[("mf", 0.05), "margin"]
    assert bound_s / pred_s == pytest.approx(np.full(len(true_s), np.exp(margin)), rel=1e-5)


def axis(feature_names: list[str], features: list[list[float]]) -> Axis:
    names = np.array([f"p{i}" for i in range(len(features))])
    return Axis("platform", names, np.asarray(features, np.float32), np.asarray(feature_names))


def test_platform_groups_read_the_one_hot_columns() -> None:
    platforms = axis(
        ["runtime=a", "cpufreq", "runtime=b", "uarch=x"],
        [[1, 0.3, -1, 1], [-1, 0.1, 1, -1], [-1, 0.2, -1, 1]],
    )
    assert platform_groups(platforms, "runtime").tolist() == ["a", "b", NO_GROUP]
    assert platform_groups(platforms, "uarch").tolist() == ["x", NO_GROUP, "x"]
    assert one_hot_kinds(platforms) == ["runtime", "uarch"]
    with pytest.raises(ConformalError, match="available groupings: runtime, uarch"):
        platform_groups(platforms, "cpufreq")


def test_an_unknown_grouping_is_an_error(data) -> None:  # type: ignore[no-untyped-def]
    dataset, split, truth = data
    with pytest.raises(ConformalError, match="grouping 'vendor'"):
        evaluate(lookup_model(truth, [0.0]), dataset, split, groupings=["vendor"])


def test_validation_bound_metrics_are_held_out(two_heads) -> None:  # type: ignore[no-untyped-def]
    """``val_*_coverage`` is measured on validation rows the bound was not fitted on."""
    from pitot_tf.conformal import ConformalUpperBound
    from pitot_tf.conformal.evaluate import calibration_halves

    found = two_heads.metrics()
    pred = two_heads.predictions["mf"]
    first, second = calibration_halves(len(pred.val_true))
    assert not set(first) & set(second) and len(first) + len(second) == len(pred.val_true)
    bound = ConformalUpperBound([0.05]).fit(pred.val_true[first], pred.val_pred[first])
    upper = bound.upper_bound(pred.val_pred[second], 0.05)
    assert found["val_mf_coverage_0.05"] == pytest.approx(np.mean(pred.val_true[second] <= upper))
    assert found["val_mf_width_0.05"] == pytest.approx(
        np.mean(np.abs(np.expm1(pred.val_true[second] - upper))))


def test_a_cold_split_gets_per_kind_mondrian_bounds(data) -> None:  # type: ignore[no-untyped-def]
    """On a cold-both split the groups table has a ``cold`` grouping whose Mondrian margins are
    the per-kind quantiles of the validation residuals; a random split has no such grouping."""
    dataset, _, truth = data
    split = make_cold_split(dataset, 1.0, 0, mode="cold-both", holdout=0.2)
    evaluation = evaluate(lookup_model(truth, [0.0]), dataset, split, groupings=[])
    rows = split.rows("mf", "val")
    val = residuals(dataset, truth, "mf", rows)
    kinds = cold_kinds(dataset.objectives["mf"], rows, seen_entities(dataset, split))
    table = evaluation.groups.query("objective == 'mf' and grouping == @COLD_GROUPING "
                                    "and alpha == 0.1 and bound == 'mondrian'").set_index("group")
    assert set(table.index) == {"cold-workload", "cold-platform", "cold-both", ALL_GROUPS}
    for kind in ("cold-workload", "cold-platform", "cold-both"):
        own = np.sort(val[kinds == kind])
        k = math.ceil(0.9 * (len(own) + 1))
        assert table.loc[kind, "margin"] == pytest.approx(own[k - 1], abs=1e-5)
    random = evaluate(lookup_model(truth, [0.0]), dataset, make_split(dataset, 0.5, 0),
                      groupings=[])
    assert COLD_GROUPING not in set(random.groups.get("grouping", []))


def test_a_cold_split_logs_each_kinds_bound_as_metrics(data) -> None:  # type: ignore[no-untyped-def]
    """Per cold kind of test row, the metrics are the MAPE and the coverage and width of the
    bound calibrated on that kind's validation rows, recomputed here from the residuals."""
    dataset, _, truth = data
    split = make_cold_split(dataset, 1.0, 0, mode="cold-both", holdout=0.2)
    evaluation = evaluate(lookup_model(truth, [0.0]), dataset, split, groupings=[])
    found = evaluation.metrics()
    seen = seen_entities(dataset, split)
    val_rows, test_rows = split.rows("mf", "val"), split.rows("mf", "test")
    val_kinds = cold_kinds(dataset.objectives["mf"], val_rows, seen)
    test_kinds = cold_kinds(dataset.objectives["mf"], test_rows, seen)
    val, test = (residuals(dataset, truth, "mf", rows) for rows in (val_rows, test_rows))
    for kind in ("cold-workload", "cold-platform", "cold-both"):
        name = kind.replace("-", "_")
        own = np.sort(val[val_kinds == kind])
        margin = own[math.ceil(0.95 * (len(own) + 1)) - 1]
        covered = np.mean(test[test_kinds == kind] <= margin + 1e-6)
        assert found[f"test_mf_{name}_coverage_0.05"] == pytest.approx(covered)
        assert found[f"test_mf_{name}_mape"] == pytest.approx(
            np.mean(np.abs(np.expm1(test[test_kinds == kind]))), rel=1e-4)
        assert 0 < found[f"test_mf_{name}_width_0.05"]
    random = evaluate(lookup_model(truth, [0.0]), dataset, make_split(dataset, 0.5, 0),
                      groupings=[])
    assert not random.kind_metrics()
