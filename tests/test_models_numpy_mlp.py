"""The numpy dense stack and activations equal Keras' on the same weights."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pitot_tf.models.numpy_mlp import ACTIVATIONS, DenseStack, activation_supported, erf


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_activation_equals_keras(name: str) -> None:
    x = np.linspace(-8, 8, 2001, dtype=np.float32)
    expected = keras.ops.convert_to_numpy(keras.activations.get(name)(x))
    np.testing.assert_allclose(ACTIVATIONS[name](x), expected, rtol=2e-6, atol=2e-6)


def test_erf_is_within_the_published_bound() -> None:
    import math

    x = np.linspace(-5, 5, 10001)
    exact = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(erf(x) - exact)) < 1.5e-7


def test_a_dense_stack_equals_keras_dense_layers() -> None:
    layers = [keras.layers.Dense(7, activation="gelu"), keras.layers.Dense(5, activation="tanh"),
              keras.layers.Dense(3)]
    x = np.random.default_rng(0).normal(size=(11, 4)).astype(np.float32)
    out = x
    for layer in layers:
        out = layer(out)
    stack = DenseStack(tuple(np.asarray(layer.kernel.numpy()) for layer in layers),
                       tuple(np.asarray(layer.bias.numpy()) for layer in layers),
                       ("gelu", "tanh", "linear"))
    found = stack(x)
    assert found.dtype == np.float32
    np.testing.assert_allclose(found, keras.ops.convert_to_numpy(out), rtol=1e-5, atol=1e-6)
    again = DenseStack.from_arrays(stack.arrays("t0_"), "t0_", ["gelu", "tanh", "linear"])
    np.testing.assert_array_equal(again(x), found)


def test_unknown_activations_are_not_supported() -> None:
    assert activation_supported(None) and activation_supported("gelu")
    assert not activation_supported("hard_shrink")
