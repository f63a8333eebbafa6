"""What a new row (cold start) needs from a Pitot model's towers and baselines, as numpy.

A new workload or platform known only by its side features gets, per Pitot layer, its tower's
output for those features with the free part at its neutral value (:class:`NewTower`, as
``Tower.embed_new``), and per ensemble member the baseline term its features predict
(:class:`FeatureBaseline`, as ``LinearScaling.feature_term``). :class:`NewWorkloads` and
:class:`NewPlatforms` hold them for one axis and turn feature rows into table rows, members
side by side as in :class:`~pitot_tf.models.numpy_predictor.NumpyPitot`: exactly what
:func:`pitot_tf.models.cold.extend_model` gives the Keras model, computing only the new rows.
Numpy only: no Keras or TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pitot_tf.errors import PredictionError
from pitot_tf.models.interference import NUMPY_OPS, TowerLayout
from pitot_tf.models.numpy_mlp import DenseStack
from pitot_tf.models.packed_trees import predict_trees


@dataclass(frozen=True)
class NewTower:
    """A workload or platform tower, as far as a new row needs it (``Tower.embed_new`` in
    numpy): its output layout, its MLP (None for an embedding tower), the neutral free part a
    new row gets (None without free features) and the feature standardisation (None without)."""

    layout: TowerLayout
    mlp: DenseStack | None
    neutral: np.ndarray | None = None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    def embed(self, features: np.ndarray) -> np.ndarray:
        """``(n, width)`` float32 tower output of ``n`` new rows."""
        if self.mlp is None:
            if self.neutral is None:
                raise PredictionError("an embedding tower without a neutral row")
            return np.repeat(self.neutral[None], len(features), axis=0).astype(np.float32)
        x = np.asarray(features, dtype=np.float32)
        if self.mean is not None and self.scale is not None:
            x = (x - self.mean) / self.scale
        if self.neutral is not None:
            x = np.concatenate([x, np.repeat(self.neutral[None], len(x), axis=0)], axis=1)
        return self.mlp(x)

    def rows(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """A workload tower's ``x_w (n, E, H, d)`` and bias ``(n, E, H)`` (None without) of
        new rows."""
        x_w, bias = self.layout.workload(self.embed(features), NUMPY_OPS)
        return np.asarray(x_w), None if bias is None else np.asarray(bias)

    def platform_rows(self, features: np.ndarray) -> tuple[np.ndarray | None, ...]:
        """A platform tower's ``x_p (n, E, d)``, ``v_s`` and ``v_g (n, E, k, d)`` and bias
        ``(n, E, H)`` (None without) of new rows."""
        parts = self.layout.platform(self.embed(features), NUMPY_OPS)
        return tuple(None if part is None else np.asarray(part) for part in parts)


@dataclass(frozen=True)
class FeatureBaseline:
    """A baseline layer's term for a new row of one axis from its features
    (``LinearScaling.feature_term``): a packed forest where it uses one, else ridge
    coefficients ``(features + 1,)``."""

    coef: np.ndarray
    trees: np.ndarray | None = None

    def term(self, features: np.ndarray) -> np.ndarray:
        """``(n,)`` float32 baseline term (``b_w`` or ``a_p``)."""
        if self.trees is not None:
            return predict_trees(self.trees, features)
        x = np.asarray(features, dtype=np.float32)
        return (x @ self.coef[:-1] + self.coef[-1]).astype(np.float32)


def member_terms(baselines: tuple[FeatureBaseline, ...], features: np.ndarray) -> np.ndarray:
    """``(E, n)`` baseline term of ``n`` new rows per member."""
    return np.stack([base.term(features) for base in baselines])


@dataclass(frozen=True)
class NewWorkloads:
    """What embedding a new workload needs: each Pitot layer's workload tower (one, or one per
    member of an ensemble without shared towers) and every member's feature baseline."""

    towers: tuple[NewTower, ...]
    baselines: tuple[FeatureBaseline, ...]
    feature_dim: int

    def tables(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``x_w (n, E, H, d)`` and the bias ``(n, E, H)`` (None without) of ``n`` new
        workloads, members side by side."""
        rows = [tower.rows(features) for tower in self.towers]
        biases = [bias for _, bias in rows if bias is not None]
        return (np.concatenate([x_w for x_w, _ in rows], axis=1),
                np.concatenate(biases, axis=1) if biases else None)

    def baseline(self, features: np.ndarray) -> np.ndarray:
        """``(E, n)`` baseline term ``b_w`` of new workloads per member, from their features."""
        return member_terms(self.baselines, features)


@dataclass(frozen=True)
class NewPlatforms:
    """What embedding a new platform needs: each Pitot layer's platform tower and every
    member's platform feature baseline."""

    towers: tuple[NewTower, ...]
    baselines: tuple[FeatureBaseline, ...]
    feature_dim: int

    def tables(self, features: np.ndarray) -> tuple[np.ndarray | None, ...]:
        """``x_p (n, E, d)``, ``v_s`` and ``v_g (n, E, k, d)`` and the bias ``(n, E, H)``
        (None without) of ``n`` new platforms, members side by side."""
        rows = [tower.platform_rows(features) for tower in self.towers]
        return tuple(None if parts[0] is None else np.concatenate(list(parts), axis=1)
                     for parts in zip(*rows, strict=True))

    def baseline(self, features: np.ndarray) -> np.ndarray:
        """``(E, n)`` baseline term ``a_p`` of new platforms per member, from their features."""
        return member_terms(self.baselines, features)


def feature_rows(features: np.ndarray, dim: int, axis: str) -> np.ndarray:
    """``features`` as a float32 ``(n, dim)`` array; PredictionError if they do not fit."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or features.shape[1] != dim:
        got = features.shape[1] if features.ndim == 2 else features.shape
        raise PredictionError(f"a new {axis} needs {dim} features, got {got}")
    return features
