"""Entry-point parameter parsing: MLflow passes every parameter as text, "" when unset."""

from __future__ import annotations

import pytest

from pitot_tf.errors import ConfigError
from pitot_tf.tracking.params import (
    float_list,
    integer,
    optional,
    optional_steps,
    real,
    split_overrides,
    words,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("  ", []),
        ("model.mf_dim=64", ["model.mf_dim=64"]),
        ("model.mf_dim=64 training.steps=100", ["model.mf_dim=64", "training.steps=100"]),
        ("model.mf_dim=64,training.steps=100", ["model.mf_dim=64", "training.steps=100"]),
        ("model.layers=[64, 64], seed=3", ["model.layers=[64, 64]", "seed=3"]),
        ("model.quantiles=[0.5,0.9] model.kind=monolith",
         ["model.quantiles=[0.5,0.9]", "model.kind=monolith"]),
    ],
)
def test_split_overrides_keeps_list_values_whole(text: str, expected: list[str]) -> None:
    assert split_overrides(text) == expected


def test_numbers_accept_mlflow_float_text_and_name_the_parameter() -> None:
    assert integer("3", "replicate") == 3
    assert integer("3.0", "replicate") == 3
    assert real("0.5", "level") == 0.5
    with pytest.raises(ConfigError, match="parameter replicate must be an integer, got '1.5'"):
        integer("1.5", "replicate")
    with pytest.raises(ConfigError, match="parameter level must be a number, got 'half'"):
        real("half", "level")


def test_empty_means_not_given() -> None:
    assert optional("") is None and optional("  ") is None and optional("x") == "x"
    assert optional_steps("") is None and optional_steps("0") is None
    assert optional_steps("200.0") == 200
    with pytest.raises(ConfigError, match="steps must be >= 0"):
        optional_steps("-5")


def test_lists_split_on_commas_and_spaces() -> None:
    assert float_list("0.1,0.5 0.9", "levels") == [0.1, 0.5, 0.9]
    assert float_list("", "levels") == []
    assert words("runtime, uarch") == ["runtime", "uarch"]
    with pytest.raises(ConfigError, match="parameter levels must be numbers"):
        float_list("0.1,x", "levels")
