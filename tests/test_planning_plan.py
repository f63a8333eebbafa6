"""Every strategy proposes distinct, valid, unmeasured rows of a small trained model, with
finite runtimes and bounds; bad budgets and strategies are one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from planning_support import Served, planted, served_model

from pitot_tf.errors import PlanningError
from pitot_tf.models.fold_in import Entity
from pitot_tf.planning.disagreement import disagreement
from pitot_tf.planning.plan import MAX_BUDGET, propose
from pitot_tf.planning.rows import candidates, empty
from pitot_tf.planning.served import planning_model
from pitot_tf.planning.strategies import STRATEGIES

FIRST = Entity("workload", 0)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Served:
    return served_model(tmp_path_factory.mktemp("plan"))


def measured_rows(served: Served) -> object:
    """Three rows of workload 0 already measured: platforms 0 and 1 alone, 2 beside 3."""
    width = served.pyfunc.names.width
    rows = candidates(3, width, [[3]])
    keep = [k for k, key in enumerate(rows.keys()) if key in {(0, ()), (1, ()), (2, (3,))}]
    return rows.take(keep)


@pytest.mark.parametrize("axis", ["workload", "platform"])
@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_proposes_distinct_valid_unmeasured_rows(served: Served, name: str,
                                                                axis: str) -> None:
    names = served.pyfunc.names
    model, _ = planning_model(served.pyfunc, 0.05, axis=axis)
    others = len(names.platforms) if axis == "workload" else len(names.workloads)
    rows = candidates(others, names.width, [[3], [5]])
    done = measured_rows(served)
    proposals = propose(model, Entity(axis, 0), rows, done, name, 12, seed=1)
    keys = [(p.other, p.co_runners) for p in proposals]
    assert len(keys) == 12 and len(set(keys)) == 12
    assert set(keys) <= set(rows.keys()) and not set(keys) & set(done.keys())
    for p in proposals:
        assert 0 < p.predicted_s < p.bound_s < np.inf
        assert np.isnan(p.gain) if name == "random" else np.isfinite(p.gain)


def test_a_new_workload_is_planned_from_its_features(served: Served) -> None:
    features = served.dataset.workloads.features[4]
    model, index = planning_model(served.pyfunc, 0.05, features)
    assert index == len(served.dataset.workloads)
    rows = candidates(len(served.pyfunc.names.platforms), served.pyfunc.names.width)
    proposals = propose(model, Entity("workload", index), rows,
                        empty(served.pyfunc.names.width), "doptimal", 16)
    assert sorted(p.other for p in proposals) == list(range(16))  # every platform once


@pytest.mark.parametrize(("budget", "message"), [
    (0, "budget must be at least 1, got 0"), (-2, "budget must be at least 1, got -2"),
    (MAX_BUDGET + 1, f"budget {MAX_BUDGET + 1} is over the limit of {MAX_BUDGET}"),
    (30, "budget 30 is more than the 13 candidate rows not yet measured")])
def test_bad_budgets_are_one_line_errors(served: Served, budget: int, message: str) -> None:
    model, _ = planning_model(served.pyfunc, 0.05)
    rows = candidates(len(served.pyfunc.names.platforms), served.pyfunc.names.width)
    with pytest.raises(PlanningError, match=f"^{message}$"):
        propose(model, FIRST, rows, rows.take(range(3)), "doptimal", budget)


@pytest.mark.parametrize("exponent", [-0.1, 1.5, float("nan")])
def test_bad_cost_exponents_are_one_line_errors(served: Served, exponent: float) -> None:
    model, _ = planning_model(served.pyfunc, 0.05)
    rows = candidates(len(served.pyfunc.names.platforms), served.pyfunc.names.width)
    with pytest.raises(PlanningError, match="^cost exponent must be between 0 and 1, got "):
        propose(model, FIRST, rows, empty(1), "cost-variance", 2, cost_exponent=exponent)


def test_unknown_strategy_and_single_model_disagreement(served: Served) -> None:
    model, _ = planning_model(served.pyfunc, 0.05)
    rows = candidates(len(served.pyfunc.names.platforms), served.pyfunc.names.width)
    with pytest.raises(PlanningError, match="unknown strategy 'best'; choose one of random"):
        propose(model, FIRST, rows, empty(1), "best", 2)
    single = planted(np.ones((4, 1, 3)))
    with pytest.raises(PlanningError, match="needs an ensemble"):
        disagreement(single, 2, np.random.default_rng(0))


def test_disagreement_picks_the_widest_spread() -> None:
    members = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 0.1], [0.0, 3.0]])
    outlook = planted(np.ones((4, 2, 3)), members=members, log_runtime=members.mean(axis=1))
    picks = disagreement(outlook, 2, np.random.default_rng(0))
    assert [p.index for p in picks] == [3, 1]



def test_design_vectors_alone_are_x_p_and_match_finite_differences(served: Served) -> None:
    from pitot_tf.planning.entity import _finite_differences, design_vectors

    tables = served.pyfunc.predictor
    rows = candidates(5, served.pyfunc.names.width, [[2]])
    design = design_vectors(tables, Entity("workload", 1), rows)
    alone = rows.degree() == 1
    assert np.allclose(design[alone, :, :-1], tables.tables.x_p[rows.other[alone]])
    assert np.allclose(design[alone], _finite_differences(tables, 1, rows.take(np.flatnonzero(
        alone))), atol=1e-3)
    assert np.all(design[:, :, -1] == 1.0)


def test_a_platforms_design_vectors_are_the_gradient_in_its_embedding(served: Served) -> None:
    """``[x_w, 1]`` for every row, beside co-runners too: ``x_p`` enters the term alone only
    (checked by finite differences of the platform's embedding)."""
    from dataclasses import replace

    from pitot_tf.planning.entity import design_vectors, member_log_runtime

    tables = served.pyfunc.predictor
    entity = Entity("platform", 2)
    rows = candidates(6, served.pyfunc.names.width, [[3]])
    design = design_vectors(tables, entity, rows)
    origin = member_log_runtime(tables, entity, rows)[:, :, 0]
    step = 1e-2
    for j in range(design.shape[2] - 1):
        x_p = tables.tables.x_p.astype(np.float64)
        x_p[2, :, j] += step
        moved = replace(tables, tables=replace(tables.tables, x_p=x_p))
        slope = (member_log_runtime(moved, entity, rows)[:, :, 0] - origin) / step
        assert np.allclose(design[:, :, j], slope, atol=1e-3)
    assert np.all(design[:, :, -1] == 1.0)


def test_gain_units_name_the_cost_exponent() -> None:
    assert STRATEGIES["cost"].gain_unit() == STRATEGIES["cost"].gain
    assert STRATEGIES["cost-variance"].gain_unit(1.0) == STRATEGIES["cost-variance"].gain
    assert (STRATEGIES["cost-variance"].gain_unit(0.35)
            == "predictive variance removed per (predicted seconds)^0.35")
    assert STRATEGIES["variance"].gain_unit(0.35) == STRATEGIES["variance"].gain


def test_a_new_platform_is_planned_from_its_features(served: Served) -> None:
    features = served.dataset.platforms.features[3]
    model, index = planning_model(served.pyfunc, 0.05, features, axis="platform")
    assert index == len(served.dataset.platforms)
    rows = candidates(len(served.pyfunc.names.workloads), served.pyfunc.names.width)
    proposals = propose(model, Entity("platform", index), rows,
                        empty(served.pyfunc.names.width), "doptimal", 24)
    assert sorted(p.other for p in proposals) == list(range(24))  # every workload once
