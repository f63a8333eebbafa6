"""Test helper: a tiny trained two-member Pitot model on synthetic data, served as the
pyfunc (in memory and as a saved model folder), for the planning tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from model_support import TINY_PITOT, resolve_small

from pitot_tf.conformal.evaluate import evaluate
from pitot_tf.data.dataset import Dataset, load_dataset
from pitot_tf.data.splits import make_split
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.planning.entity import Outlook
from pitot_tf.planning.rows import Rows
from pitot_tf.serving.pyfunc import MODEL_FROM_CODE, PitotRuntimeModel, write_artifacts
from pitot_tf.tracking.models import pyfunc_signature, pyfunc_state
from pitot_tf.training import train


@dataclass
class Served:
    """The synthetic dataset, the pyfunc serving a model trained on it, and its folder."""

    dataset: Dataset
    pyfunc: PitotRuntimeModel
    folder: Path


def served_model(folder: Path, members: int = 2) -> Served:
    """Train a tiny ``members``-member model on synthetic data (2-way interference) and save
    it as a pyfunc model folder ``folder / "model"``."""
    import mlflow

    dataset = load_dataset(synthesize_dataset(folder / "data", platforms=16, workloads=24,
                                              seed=5))
    split = make_split(dataset, 0.5)
    config = resolve_small("pitot", TINY_PITOT, {"training.ensemble": members})
    model = train(config, dataset, split).model
    state = pyfunc_state(dataset, evaluate(model, dataset, split))
    pyfunc = PitotRuntimeModel()
    pyfunc.load(model, state)
    artifacts = write_artifacts(model, state, folder / "artifacts")
    mlflow.pyfunc.save_model(folder / "model", python_model=str(MODEL_FROM_CODE),
                             artifacts=artifacts, signature=pyfunc_signature(),
                             pip_requirements=["mlflow"])
    return Served(dataset, pyfunc, folder / "model")


def planted(design: np.ndarray, log_runtime: np.ndarray | None = None,
            members: np.ndarray | None = None) -> Outlook:
    """An outlook of ``n`` alone rows with the given design vectors ``(n, E, D)``."""
    n = len(design)
    log_runtime = np.zeros(n) if log_runtime is None else log_runtime
    return Outlook(
        rows=Rows(np.arange(n, dtype=np.int32), np.full((n, 1), -1, np.int32)),
        members=np.repeat(log_runtime[:, None], design.shape[1], axis=1)
        if members is None else members,
        log_runtime=log_runtime, log_bound=log_runtime + 0.3, design=design,
        measured_design=np.zeros((0, *design.shape[1:])), seconds_per_unit=1.0)
