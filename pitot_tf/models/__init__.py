"""Keras 3 models: Pitot, its baselines, and the linear-scaling baseline they share."""

from pitot_tf.models.build import build_model, fit_baseline
from pitot_tf.models.member import INPUTS, heads

__all__ = ["INPUTS", "build_model", "fit_baseline", "heads"]
