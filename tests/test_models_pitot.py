"""The interference term of both forms against a small numpy version of each formula."""

from __future__ import annotations

import numpy as np
import pytest

from pitot_tf.models.pitot import PitotInteraction

PLATFORMS, WORKLOADS, D, K = 2, 4, 2, 1


def _layer(form: str) -> PitotInteraction:
    """Embedding towers (plain tables) set to small integer values."""
    layer = PitotInteraction(
        PLATFORMS, WORKLOADS, 0, 0, mf_dim=D, if_dim=K, if_slope=0.1, heads=1,
        interference_form=form, workload_tower="embedding", platform_tower="embedding",
    )
    layer.workload_tower.table.assign(WORKLOAD_TABLE.astype("float32"))
    layer.platform_tower.table.assign(PLATFORM_TABLE.astype("float32"))
    return layer


# x_w per workload (W, d); per platform [x_p (d) | Vs (k*d) | Vg (k*d)].
WORKLOAD_TABLE = np.array([[1, 0], [0, 1], [1, 1], [2, -1]], float)
PLATFORM_TABLE = np.array([[1, 2, 1, 0, 0, 1], [0, 1, 0, 1, 2, -3]], float)


def _leaky(x: float) -> float:
    return x if x >= 0 else 0.1 * x


def _numpy_prediction(form: str, p: int, w: int, corunners: list[int]) -> float:
    x_w, x_p = WORKLOAD_TABLE[w], PLATFORM_TABLE[p, :D]
    v_s, v_g = PLATFORM_TABLE[p, D : 2 * D], PLATFORM_TABLE[p, 2 * D :]
    if form == "paper":  # Σ_i <x_i, Vg_p>
        pressure = sum(WORKLOAD_TABLE[i] @ v_g for i in corunners)
    else:  # Σ_i <x_w, Vg[min(i, P - 1)]>: the co-runner's workload index picks a platform row
        pressure = sum(x_w @ PLATFORM_TABLE[min(i, PLATFORMS - 1), 2 * D :] for i in corunners)
    return float(x_w @ x_p + (x_w @ v_s) * _leaky(pressure))


ROWS = [  # platform, workload, co-runners (-1 pads)
    (0, 0, [-1, -1]), (0, 2, [1, -1]), (1, 3, [0, 3]), (1, 1, [2, 2]), (0, 3, [3, 0]),
]


@pytest.mark.parametrize("form", ["paper", "reference"])
def test_forms_match_numpy(form: str) -> None:
    layer = _layer(form)
    platform = np.array([r[0] for r in ROWS], np.int32)
    workload = np.array([r[1] for r in ROWS], np.int32)
    interferers = np.array([r[2] for r in ROWS], np.int32)
    got = np.asarray(layer(platform, workload, interferers))[:, 0]
    expected = [_numpy_prediction(form, p, w, [i for i in co if i >= 0]) for p, w, co in ROWS]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_forms_by_hand() -> None:
    """Row (1, 3, [0, 3]): x_w=(2,-1), x_p=(0,1), Vs=(0,1), Vg_1=(2,-3), Vg_0=(0,1).

    paper:     pressure = <(1,0)+(2,-1), (2,-3)> = 6+3 = 9; -1 + (-1)*9 = -10.
    reference: pressure = <(2,-1), Vg_0 + Vg_min(3,1)> = <(2,-1), (2,-2)> = 6;
               -1 + (-1)*6 = -7.
    """
    row = (np.array([1], np.int32), np.array([3], np.int32), np.array([[0, 3]], np.int32))
    assert float(np.asarray(_layer("paper")(*row))[0, 0]) == pytest.approx(-10.0)
    assert float(np.asarray(_layer("reference")(*row))[0, 0]) == pytest.approx(-7.0)


def test_no_corunner_is_the_same_in_both_forms() -> None:
    row = (np.array([0, 1], np.int32), np.array([2, 3], np.int32),
           np.full((2, 2), -1, np.int32))
    paper, reference = (np.asarray(_layer(f)(*row)) for f in ("paper", "reference"))
    np.testing.assert_allclose(paper, reference)


@pytest.mark.parametrize("form", ["paper", "reference"])
def test_shared_tower_members_are_single_layers_on_their_columns(form: str) -> None:
    """Member ``e`` of a layer with ``members=3`` (shared hidden layers, one block of the
    towers' output layers per member) computes what a single layer with the same hidden
    weights and member ``e``'s output block computes, in output columns ``e · heads …``."""
    members, heads, k = 3, 2, 2
    settings = dict(platforms=5, workloads=7, platform_features=3, workload_features=4,
                    mf_dim=D, if_dim=k, heads=heads, interference_form=form, layers=[6])
    rng = np.random.default_rng(0)
    shared = PitotInteraction(**settings, members=members)  # type: ignore[arg-type]
    shared.set_features(rng.normal(size=(5, 3)), rng.normal(size=(7, 4)))
    for tower in (shared.workload_tower, shared.platform_tower):  # outputs of order 1
        tower.head.set_weights([rng.normal(size=w.shape) for w in tower.head.get_weights()])
    rows = (np.array([0, 4, 2, 1], np.int32), np.array([6, 0, 3, 3], np.int32),
            np.array([[1, -1], [2, 5], [-1, -1], [6, 6]], np.int32))
    out = np.asarray(shared(*rows))
    assert out.shape == (4, members * heads) and np.abs(out).mean() > 0.1
    blocks = {"workload_tower": heads * D, "platform_tower": (1 + 2 * k) * D}
    for member in range(members):
        single = PitotInteraction(**settings)  # type: ignore[arg-type]
        for name, width in blocks.items():
            source, target = getattr(shared, name), getattr(single, name)
            for a, b in zip(source.hidden, target.hidden, strict=True):
                b.set_weights(a.get_weights())
            target.features.assign(source.features)
            target.learned.assign(source.learned)
            kernel, bias = source.head.get_weights()
            part = slice(member * width, (member + 1) * width)
            target.head.set_weights([kernel[:, part], bias[part]])
        np.testing.assert_allclose(out[:, member * heads : (member + 1) * heads],
                                   np.asarray(single(*rows)), rtol=1e-5, atol=1e-6)
    first = [np.asarray(t) for t in shared.embeddings()]
    assert [t.shape for t in first] == [(7, heads, D), (5, D), (5, k, D), (5, k, D)]
