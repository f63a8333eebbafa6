"""Study files: the shipped ones load; invalid ones are ConfigErrors naming file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from search_support import SHIPPED_STUDIES, tiny_study, write_study

from pitot_tf.errors import ConfigError
from pitot_tf.presets import resolve
from pitot_tf.search.space import Param, suggest_overrides
from pitot_tf.search.studies import list_studies, load_study

BASELINE_STUDIES = ("baseline-factorization", "baseline-monolith", "baseline-attention")


def test_shipped_studies_are_the_promised_ones() -> None:
    names = list_studies(SHIPPED_STUDIES)
    assert {"pitot", "pitot-small", "pitot-bounds", *BASELINE_STUDIES} <= set(names)


def test_the_small_data_study_is_the_pitot_study_at_level_0_1() -> None:
    pitot, small = (load_study(SHIPPED_STUDIES / f"{n}.yaml") for n in ("pitot", "pitot-small"))
    assert small.level == 0.1 and pitot.level == 0.5
    assert small.space == pitot.space and small.preset == pitot.preset


@pytest.mark.parametrize("name", ["pitot", "pitot-small", "pitot-bounds", *BASELINE_STUDIES])
def test_shipped_study_first_trial_is_its_preset(name: str) -> None:
    spec = load_study(SHIPPED_STUDIES / f"{name}.yaml")
    config = spec.base_config()
    preset = resolve(spec.preset, {"training.progress": False, **spec.overrides})
    assert config == preset
    trial = optuna.trial.FixedTrial(spec.default_params())
    sampled = suggest_overrides(trial, spec.space)  # type: ignore[arg-type]
    assert {k: preset.flat()[k] for k in sampled} == sampled


def test_shipped_objectives() -> None:
    assert load_study(SHIPPED_STUDIES / "pitot.yaml").metrics == ("val_loss",)
    bounds = load_study(SHIPPED_STUDIES / "pitot-bounds.yaml")
    assert bounds.metrics == ("val_mape", "val_width") and bounds.alpha == 0.05
    assert bounds.pruner.kind == "none" and bounds.multi_objective
    for name in BASELINE_STUDIES:
        spec = load_study(SHIPPED_STUDIES / f"{name}.yaml")
        assert spec.preset == f"baseline/{name.split('-')[1]}"
        assert "training.learning_rate" in spec.space and spec.metrics == ("val_loss",)


def test_study_by_name_uses_pitot_studies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_study(tmp_path, "mine")
    monkeypatch.setenv("PITOT_STUDIES", str(tmp_path))
    assert load_study("mine").name == "mine"
    with pytest.raises(ConfigError, match="unknown study 'other'.*studies: mine"):
        load_study("other")


def test_layers_are_sampled_as_depth_and_width() -> None:
    from optuna.distributions import IntDistribution

    spec_space = {"model.layers": Param("model.layers", {
        "model.layers.depth": IntDistribution(1, 3),
        "model.layers.width": IntDistribution(8, 64, log=True)})}
    trial = optuna.trial.FixedTrial({"model.layers.depth": 3, "model.layers.width": 16})
    assert suggest_overrides(trial, spec_space) == {"model.layers": [16, 16, 16]}  # type: ignore[arg-type]


def test_sampled_values_stay_in_range(tmp_path: Path) -> None:
    spec = load_study(write_study(tmp_path, space={
        "training.learning_rate": {"type": "float", "low": "1e-4", "high": 1e-2, "log": True},
        "model.layers": {"type": "layers", "depth": [1, 2], "width": [8, 128]},
        "model.workload_tower": {"type": "categorical", "choices": ["hybrid", "embedding"]},
    }, overrides={"training.steps": 60}))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        values = suggest_overrides(study.ask(), spec.space)
        assert 1e-4 <= values["training.learning_rate"] <= 1e-2
        assert 1 <= len(values["model.layers"]) <= 2 and 8 <= values["model.layers"][0] <= 128
        assert values["model.workload_tower"] in ("hybrid", "embedding")


def test_set_overrides_remove_keys_from_the_space(tmp_path: Path) -> None:
    spec = load_study(write_study(tmp_path)).with_overrides({"model.mf_dim": 8})
    assert list(spec.space) == ["training.learning_rate"]
    assert spec.base_config().model.mf_dim == 8
    with pytest.raises(ConfigError, match="model.mf_dim must be >= 1"):
        load_study(write_study(tmp_path)).with_overrides({"model.mf_dim": 0})


def _space(entry: dict[str, Any], key: str = "model.mf_dim") -> dict[str, Any]:
    return {**tiny_study()["space"], key: entry}


INVALID_SPACES = {
    "unknown key": (_space({"type": "int", "low": 1, "high": 4}, "model.no_such_key"),
                    "model.no_such_key", "unknown config key"),
    "low > high": (_space({"type": "int", "low": 64, "high": 8}), "model.mf_dim",
                   "low <= high` must hold"),
    "unknown distribution": (_space({"type": "gaussian", "low": 1, "high": 4}), "model.mf_dim",
                             "unknown distribution type 'gaussian'"),
    "float on an int key": (_space({"type": "float", "low": 4, "high": 64}), "model.mf_dim",
                            "type float does not fit"),
    "bound not a number": (_space({"type": "float", "low": "small", "high": 1e-2},
                                  "training.learning_rate"), "training.learning_rate",
                           "low must be a number"),
    "choice of wrong type": (_space({"type": "categorical", "choices": [8, "big"]}),
                             "model.mf_dim", "must be an integer"),
    "value out of config range": (_space({"type": "float", "low": 0.1, "high": 2.0},
                                         "model.if_slope"), "model.if_slope",
                                  r"must be in \[0, 1\]"),
    "log with low 0": (_space({"type": "float", "low": 0.0, "high": 0.5, "log": True},
                              "model.if_slope"), "model.if_slope",
                       "low > 0` must hold for `log=True`"),
    "unknown field": (_space({"type": "int", "lo": 1, "high": 4}), "model.mf_dim",
                      r"unknown key\(s\) \['lo'\]; valid keys: low, high, log, step"),
    "layers on a scalar key": (_space({"type": "layers", "depth": [1, 2], "width": [8, 16]}),
                               "model.mf_dim", "type layers fits only"),
    "preset value outside": (_space({"type": "int", "low": 64, "high": 128}), "model.mf_dim",
                             "outside the search space"),
}


@pytest.mark.parametrize("case", sorted(INVALID_SPACES))
def test_invalid_space_names_file_and_key(case: str, tmp_path: Path) -> None:
    space, key, reason = INVALID_SPACES[case]
    path = write_study(tmp_path, space=space)
    with pytest.raises(ConfigError, match=reason) as caught:
        load_study(path)
    message = str(caught.value)
    assert str(path) in message and key in message and "\n" not in message


INVALID_SECTIONS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown section": ({"searchspace": {}}, "unknown section"),
    "unknown metric": ({"objective": {"metrics": ["val_rmse"]}}, "objective.metrics"),
    "bad level": ({"data": {"level": 1.5}}, "data.level"),
    "bad replicates": ({"data": {"level": 0.5, "replicates": "0"}}, "data.replicates"),
    "unknown sampler": ({"sampler": {"kind": "grid-ish"}}, "unknown sampler 'grid-ish'"),
    "bad sampler option": ({"sampler": {"kind": "tpe", "n_startup": 3}}, "sampler:"),
    "unknown pruner": ({"pruner": {"kind": "patience"}}, "unknown pruner 'patience'"),
    "pruning two objectives": ({"objective": {"metrics": ["val_mape", "val_width"]},
                                "pruner": {"kind": "median"}}, "cannot prune multi-objective"),
    "unknown preset": ({"preset": "nosuch"}, "unknown preset 'nosuch'"),
    "bad override": ({"overrides": {"model.mf_dim": "big"}}, "model.mf_dim must be an integer"),
    "searched and fixed": ({"overrides": {"model.mf_dim": 8}}, "also fixed in overrides"),
    "bad heartbeat": ({"heartbeat": {"interval": 10, "grace_period": 5}}, "grace_period"),
}


@pytest.mark.parametrize("case", sorted(INVALID_SECTIONS))
def test_invalid_sections_name_the_file(case: str, tmp_path: Path) -> None:
    changes, reason = INVALID_SECTIONS[case]
    path = write_study(tmp_path, **changes)
    with pytest.raises(ConfigError, match=reason) as caught:
        load_study(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_invalid_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("space: [unclosed\n  - x")
    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        load_study(path)
    assert "\n" not in str(caught.value)


def test_hyperband_pruner_and_per_worker_seeds(tmp_path: Path) -> None:
    from pitot_tf.search.algorithms import make_pruner, make_sampler

    spec = load_study(write_study(
        tmp_path, sampler={"kind": "tpe", "seed": 7, "n_startup_trials": 3},
        pruner={"kind": "hyperband", "min_resource": 20, "reduction_factor": 3}))
    assert isinstance(make_pruner(spec.pruner), optuna.pruners.HyperbandPruner)
    draws = []
    for worker in (0, 1, 0):
        study = optuna.create_study(sampler=make_sampler(spec.sampler, worker))
        draws.append(study.ask().suggest_float("x", 0, 1))
    assert draws[0] == draws[2] != draws[1]
