"""Keras 3 models: Pitot, its baselines, and the linear-scaling baseline they share.

The package itself imports nothing heavy: ``build_model``, ``fit_baseline``, ``INPUTS`` and
``heads`` are loaded (with Keras) on first use, so that the numpy-only modules here
(:mod:`~pitot_tf.models.interference`, :mod:`~pitot_tf.models.numpy_predictor`, which the
served model loads) never import TensorFlow. Loading a saved Keras model needs the custom
layers registered: ``import pitot_tf.models.build`` does that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pitot_tf.models.build import build_model, fit_baseline
    from pitot_tf.models.member import INPUTS, heads

__all__ = ["INPUTS", "build_model", "fit_baseline", "heads"]
_HOME = {"build_model": "build", "fit_baseline": "build", "INPUTS": "member", "heads": "member"}


def __getattr__(name: str) -> Any:
    """``build_model`` and the rest of :data:`__all__`, imported on first use."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
