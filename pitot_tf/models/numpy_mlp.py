"""A stack of dense layers evaluated in numpy: a tower's MLP without Keras.

The served model embeds a new workload (cold start) by running the workload tower's MLP on its
features. :class:`DenseStack` holds that MLP's kernels, biases and activations as plain
arrays and evaluates it in float32 as Keras' ``Dense`` does (``activation(x @ kernel + bias)``).
The activations are numpy versions of the Keras ones of the same name, for the names in
:data:`ACTIVATIONS`; a model with any other activation is served through Keras instead
(:func:`activation_supported`). Keras' ``gelu`` is the exact one, ``x · Φ(x)``; numpy has no
``erf``, so it is computed from Abramowitz and Stegun's 7.1.26 (absolute error below 1.5e-7,
far below float32 rounding of the values that follow).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Activation = Callable[[np.ndarray], np.ndarray]


def erf(x: np.ndarray) -> np.ndarray:
    """The error function to 1.5e-7 (Abramowitz and Stegun 7.1.26), in float64."""
    z = np.abs(np.asarray(x, np.float64))
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-z * z))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, np.float64)))


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805

#: Keras activation name → its numpy version (what :class:`DenseStack` can evaluate).
ACTIVATIONS: dict[str, Activation] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "gelu": _gelu,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "elu": _elu,
    "selu": lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0))),
    "softplus": lambda x: np.logaddexp(0, x),
    "softsign": lambda x: x / (1 + np.abs(x)),
}


def activation_supported(name: str | None) -> bool:
    """Whether :class:`DenseStack` evaluates the Keras activation ``name`` (None: linear)."""
    return (name or "linear") in ACTIVATIONS


@dataclass(frozen=True)
class DenseStack:
    """Dense layers in order: ``kernels[i] (in, out)``, ``biases[i] (out,)`` and the Keras
    name of each layer's activation."""

    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activations: tuple[str, ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(n, out)`` float32 output for ``(n, in)`` inputs."""
        x = np.asarray(x, np.float32)
        for kernel, bias, name in zip(self.kernels, self.biases, self.activations, strict=True):
            x = np.asarray(ACTIVATIONS[name](x @ kernel + bias), np.float32)
        return x

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Every weight, named ``{prefix}kernel{i}`` and ``{prefix}bias{i}``."""
        named = {f"{prefix}kernel{i}": k for i, k in enumerate(self.kernels)}
        return {**named, **{f"{prefix}bias{i}": b for i, b in enumerate(self.biases)}}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str,
                    activations: list[str]) -> DenseStack:
        """The stack :meth:`arrays` saved, with its activations' names."""
        count = range(len(activations))
        return cls(tuple(np.asarray(arrays[f"{prefix}kernel{i}"], np.float32) for i in count),
                   tuple(np.asarray(arrays[f"{prefix}bias{i}"], np.float32) for i in count),
                   tuple(activations))
