"""The learning rate over a run (pitot_tf/training/schedule.py) and its config keys."""

from __future__ import annotations

import numpy as np
import pytest

from pitot_tf.errors import ConfigError
from pitot_tf.presets import resolve
from pitot_tf.training.schedule import WarmupStableDecay, learning_rate
from pitot_tf.training.snapshots import CosineRestarts
from pitot_tf.training.trainer import make_optimizer


def rates(schedule: WarmupStableDecay, steps: int) -> np.ndarray:
    return np.array([float(schedule(step)) for step in range(steps)])


def test_warm_up_stable_decay() -> None:
    got = rates(WarmupStableDecay(1.0, steps=10, warmup=4, decay_steps=3), 10)
    np.testing.assert_allclose(got, [0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 2 / 3, 1 / 3], rtol=1e-6)


def test_each_part_alone() -> None:
    np.testing.assert_allclose(rates(WarmupStableDecay(0.1, 4, warmup=2), 4),
                               [0.05, 0.1, 0.1, 0.1], rtol=1e-6)
    np.testing.assert_allclose(rates(WarmupStableDecay(0.1, 4, decay_steps=4), 4),
                               [0.1, 0.075, 0.05, 0.025], rtol=1e-6)
    assert float(WarmupStableDecay(0.1, 4, decay_steps=2)(7)) == 0.0  # past the end


def test_the_config_chooses_the_schedule() -> None:
    assert learning_rate(resolve("pitot")) == pytest.approx(1e-3)  # the default: a constant
    warm = learning_rate(resolve("pitot", {"training.warmup": 100, "training.decay_steps": 50}))
    assert isinstance(warm, WarmupStableDecay)
    assert (warm.rate, warm.steps, warm.warmup, warm.decay_steps) == (1e-3, 20_000, 100, 50)
    assert isinstance(learning_rate(resolve("pitot", {"training.snapshots": 2})), CosineRestarts)


def test_the_optimizer_follows_the_warm_up() -> None:
    config = resolve("pitot", {"training.warmup": 4, "training.learning_rate": 0.02})
    optimizer = make_optimizer(config)
    assert float(optimizer.learning_rate) == pytest.approx(0.005)
    optimizer.iterations.assign(3)
    assert float(optimizer.learning_rate) == pytest.approx(0.02)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"training.warmup": -1}, "training.warmup must be >= 0"),
    ({"training.decay_steps": -2}, "training.decay_steps must be >= 0"),
    ({"training.steps": 10, "training.warmup": 6, "training.decay_steps": 5},
     r"training.warmup \(6\) \+ training.decay_steps \(5\) must be at most training.steps"),
    ({"training.snapshots": 2, "training.warmup": 10}, "use one or the other"),
    ({"training.snapshots": 1, "training.decay_steps": 10}, "use one or the other"),
])
def test_bad_schedules_are_refused(overrides: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve("pitot", overrides)
