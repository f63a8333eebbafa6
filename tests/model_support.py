"""Test helpers: one set of "small model" overrides for presets of any model kind, and a
tiny trained Pitot served as the pyfunc in memory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pitot_tf.config import Config, applicable
from pitot_tf.presets import resolve

if TYPE_CHECKING:
    from pitot_tf.data.dataset import Dataset
    from pitot_tf.serving.pyfunc import PitotRuntimeModel

#: A tiny ``pitot`` that trains in seconds on synthetic data.
TINY_PITOT = {"training.steps": 40, "training.val_every": 20, "training.batch": 64,
              "training.progress": False, "training.jit_compile": False,
              "model.layers": [16], "model.mf_dim": 8}


def resolve_small(preset: str, small: Mapping[str, Any],
                  exact: Mapping[str, Any] | None = None) -> Config:
    """``resolve(preset, {**small, **exact})``, less the ``model.*`` keys of ``small`` that the
    model's kind never reads (which validation would reject): for tests that mean "a small
    model of whatever kind". Every key of ``exact`` must apply, as in a run."""
    exact = dict(exact or {})
    kind = resolve(preset, exact).model.kind
    return resolve(preset, {**applicable(small, kind), **exact})


def tiny_pyfunc(dataset: Dataset, cold: bool = False, mode: str = "cold-workload"
                ) -> PitotRuntimeModel:
    """:data:`TINY_PITOT` trained on ``dataset`` (level 0.5; ``cold``: a split of ``mode``,
    a quarter of the entities held out for validation and as many for test) and loaded into
    the pyfunc with the bounds calibrated on its validation split, as a logged model would be
    (its calibration JSON through a JSON round trip)."""
    import json

    from pitot_tf.conformal.evaluate import evaluate
    from pitot_tf.data.cold import make_cold_split
    from pitot_tf.data.splits import make_split
    from pitot_tf.serving.pyfunc import PitotRuntimeModel
    from pitot_tf.tracking.models import pyfunc_state, served_parts
    from pitot_tf.training import train

    split = (make_cold_split(dataset, 1.0, 0, mode=mode, holdout=0.25) if cold
             else make_split(dataset, 0.5))
    trained = train(resolve("pitot", TINY_PITOT), dataset, split).model
    evaluation = evaluate(trained, dataset, split)
    model = PitotRuntimeModel()
    if not cold:
        model.load(trained, pyfunc_state(dataset, evaluation))
        return model
    predictor, state = served_parts(trained, dataset, evaluation)
    model.load_predictor(predictor, json.loads(json.dumps(state)))
    return model


def three_way_dataset(folder: Path) -> Dataset:
    """Synthetic data in ``folder`` with matrix, 2-way and 3-way objectives (12 platforms,
    20 workloads): the smallest data on which every objective of a Pitot model trains."""
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.data.synth import synthesize_dataset

    return load_dataset(synthesize_dataset(folder, platforms=12, workloads=20,
                                           interference=(2, 3), seed=5))
