"""Config and presets: strict overrides, every preset resolves, values are checked."""

from __future__ import annotations

import dataclasses

import pytest

from pitot_tf.config import (
    BASELINE_KEYS,
    KIND_KEYS,
    SHARED_MODEL_KEYS,
    Config,
    ModelConfig,
    applicable,
    objective_weights,
    parse_overrides,
    read_fields,
    valid_keys,
    with_overrides,
)
from pitot_tf.errors import ConfigError
from pitot_tf.presets import (
    BUILTIN_PRESETS,
    TUNED,
    TUNED_SMALL,
    all_presets,
    expand,
    preset_source,
    resolve,
)


def test_defaults_are_the_papers() -> None:
    c = Config()
    assert (c.model.mf_dim, c.model.if_dim, c.model.if_slope) == (32, 2, 0.1)
    assert c.model.layers == [128, 128] and c.model.learned_features == 1
    assert (c.training.steps, c.training.val_every, c.training.batch) == (20_000, 200, 512)
    assert c.training.learning_rate == 1e-3 and c.seed == 42


def test_overrides_parse_and_apply() -> None:
    values = parse_overrides(
        [
            "model.mf_dim=64",
            "training.learning_rate=3e-4",
            "model.layers=[64, 64]",
            "model.baseline=false",
        ]
    )
    c = with_overrides(Config(), values)
    assert c.model.mf_dim == 64 and c.training.learning_rate == 3e-4
    assert c.model.layers == [64, 64] and c.model.baseline is False


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'model.mfdim'.*model.mf_dim"):
        with_overrides(Config(), {"model.mfdim": 3})


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("model.mf_dim", "big", "must be an integer"),
        ("model.mf_dim", 0, "mf_dim must be >= 1"),
        ("training.learning_rate", -1e-3, "learning_rate must be > 0"),
        ("model.if_slope", 1.5, r"if_slope must be in \[0, 1\]"),
        ("model.baseline", "maybe", "true or false"),
        ("model.kind", "transformer", "model.kind must be one of"),
        ("model.quantiles", [0.5, 1.2], "quantiles must each be in"),
        ("model.cold_dropout", 1.0, r"cold_dropout must be in \[0, 1\)"),
        ("model.cold_dropout", -0.1, r"cold_dropout must be in \[0, 1\)"),
        ("model.cold_dropout", "half", "must be a number"),
    ],
)
def test_bad_values(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        with_overrides(Config(), {key: value})


def test_flat_round_trip() -> None:
    c = resolve("conformal/optimal", {"model.mf_dim": 16})
    assert Config.from_dict(c.to_dict()) == c
    assert set(c.flat()) == set(valid_keys())


def test_every_preset_resolves() -> None:
    for name in BUILTIN_PRESETS:
        resolve(name)
    assert resolve("components/discard").objectives.interference_weight == 0.0
    assert resolve("baseline/monolith").model.kind == "monolith"


def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'pitto'"):
        resolve("pitto")


def test_expand_globs() -> None:
    assert expand(["baseline/*"]) == [
        "baseline/factorization",
        "baseline/monolith",
        "baseline/attention",
    ]
    with pytest.raises(ConfigError):
        expand(["nothing/*"])


def test_objective_weights_share_interference() -> None:
    weights = objective_weights(Config(), ["mf", "if2", "if3"])
    assert weights == {"mf": 1.0, "if2": 0.25, "if3": 0.25}


def test_user_preset_folder(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "tuned.yaml").write_text("overrides:\n  model.mf_dim: 48\n")
    monkeypatch.setenv("PITOT_PRESETS", str(tmp_path))
    assert resolve("tuned").model.mf_dim == 48


def test_fidelity_switches_and_their_defaults() -> None:
    c = Config()
    assert (c.model.interference_form, c.model.baseline_fit) == ("paper", "train")
    assert c.model.baseline_trainable is True
    for key, bad in (("model.interference_form", "jax"), ("model.baseline_fit", "val")):
        with pytest.raises(ConfigError, match=key):
            with_overrides(Config(), {key: bad})


@pytest.mark.parametrize("seed", [-1, 2**24, 2**31])
def test_seed_is_bounded(seed: int) -> None:
    with pytest.raises(ConfigError, match="seed must be in"):
        with_overrides(Config(), {"seed": seed})
    assert with_overrides(Config(), {"seed": 2**24 - 1}).seed == 2**24 - 1


def test_no_interference_presets_match_the_reference() -> None:
    for name in ("components/ignore", "components/discard"):
        config = resolve(name)
        assert config.model.interference == "ignore" and config.model.learned_features == 4
    assert resolve("components/discard").objectives.interference_weight == 0.0
    assert "components/naiveloss" not in BUILTIN_PRESETS
    with pytest.raises(ConfigError, match="unknown config key 'objectives.log_target'"):
        with_overrides(Config(), {"objectives.log_target": False})


def test_a_logged_config_with_a_removed_key_still_reads() -> None:
    logged = Config().to_dict()
    logged["objectives"]["log_target"] = True
    assert Config.from_dict(logged) == Config()


@pytest.mark.parametrize(
    ("preset", "override"),
    [
        ("baseline/monolith", {"model.mf_dim": 64}),
        ("baseline/attention", {"model.monolith_layers": [64]}),
        ("pitot", {"model.attention_dim": 16}),
        ("components/nobaseline", {"model.baseline_fit": "train+val"}),
        ("baseline/monolith", {"model.cold_dropout": 0.25}),
        ("baseline/attention", {"model.cold_dropout": 0.25}),
    ],
)
def test_a_key_the_model_never_reads_is_rejected(preset: str, override: dict) -> None:
    key = next(iter(override))
    with pytest.raises(ConfigError, match=f"{key}=.* would be ignored"):
        resolve(preset, override)


def test_every_preset_resolves_and_kind_keys_apply() -> None:
    for name in all_presets():
        resolve(name)
    assert resolve("baseline/attention", {"model.attention_dim": 16}).model.attention_dim == 16
    assert resolve("baseline/monolith", {"model.monolith_layers": [64]}).model.kind == "monolith"


def test_every_model_key_is_read_by_some_kind() -> None:
    declared = set(SHARED_MODEL_KEYS).union(*KIND_KEYS.values())
    assert declared == {f.name for f in dataclasses.fields(ModelConfig)}
    assert set(BASELINE_KEYS) <= set(SHARED_MODEL_KEYS)


def test_applicable_drops_only_model_keys_the_kind_never_reads() -> None:
    small = {"model.layers": [8], "model.monolith_layers": [8], "model.loss": "percent",
             "training.steps": 5}
    assert applicable(small, "monolith") == {"model.monolith_layers": [8],
                                             "model.loss": "percent", "training.steps": 5}
    assert applicable(small, "pitot") == {"model.layers": [8], "model.loss": "percent",
                                          "training.steps": 5}


def test_a_logged_config_with_values_its_model_never_read_still_reads() -> None:
    logged = resolve("baseline/monolith").to_dict()
    logged["model"].update({"layers": [16], "mf_dim": 8, "baseline_fit": "train+val"})
    assert Config.from_dict(logged) == resolve("baseline/monolith")
    with pytest.raises(ConfigError, match="model.layers=.* would be ignored"):
        with_overrides(Config(), {"model.kind": "monolith", "model.layers": [16]})


def test_cold_preset_is_a_small_override_of_pitot() -> None:
    cold, pitot = resolve("pitot/cold").flat(), resolve("pitot").flat()
    assert pitot["model.cold_dropout"] == 0.0  # the paper's presets are unchanged
    assert pitot["model.cold_baseline"] == "ridge" and cold["model.cold_baseline"] == "select"
    assert {k for k in cold if cold[k] != pitot[k]} == {"model.cold_dropout", "model.cold_baseline",
                                                         "training.ensemble"}
    assert cold["training.ensemble"] > 1
    assert 0.0 < cold["model.cold_dropout"] < 1.0


def test_tuned_preset_names_its_study_and_trial(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tuned, pitot = resolve("pitot/tuned").flat(), resolve("pitot").flat()
    assert {k for k in tuned if tuned[k] != pitot[k]} == set(TUNED)
    assert "study pitot" in (preset_source("pitot/tuned") or "")
    assert "trial 22" in (preset_source("pitot/tuned") or "")
    small = resolve("pitot/tuned-small").flat()
    assert {k for k in small if small[k] != pitot[k]} == set(TUNED_SMALL)
    assert "study pitot-small" in (preset_source("pitot/tuned-small") or "")
    assert "trial 54" in (preset_source("pitot/tuned-small") or "")
    best_small = resolve("pitot/best-small").flat()
    assert {k: best_small[k] for k in TUNED_SMALL} == {k: small[k] for k in TUNED_SMALL}
    assert best_small["training.ensemble"] == 5
    assert preset_source("pitot") is None
    (tmp_path / "mine.yaml").write_text(
        "overrides: {model.mf_dim: 8}\nsource: {study: small, trial: 3}\n")
    monkeypatch.setenv("PITOT_PRESETS", str(tmp_path))
    assert preset_source("mine") == "study small, trial 3"


@dataclasses.dataclass(frozen=True)
class _Section:
    low: float
    depth: list[int] = dataclasses.field(default_factory=lambda: [1])
    step: float | None = None


def test_read_fields_reads_a_section_as_strictly_as_overrides() -> None:
    section = read_fields(_Section, {"low": "1e-4", "depth": 2}, "space.x")
    assert section == _Section(1e-4, [2], None)
    assert read_fields(_Section, {"low": 1, "step": 0.5}, "s").step == 0.5
    with pytest.raises(ConfigError, match=r"^s: unknown key\(s\) \['lo'\]; valid keys: low, depth"):
        read_fields(_Section, {"lo": 1}, "s")
    with pytest.raises(ConfigError, match=r"^s: missing key\(s\) \['low'\]"):
        read_fields(_Section, {}, "s")
    with pytest.raises(ConfigError, match="^s.depth must be a list of int, got 'x'"):
        read_fields(_Section, {"low": 1, "depth": "x"}, "s")
    with pytest.raises(ConfigError, match="^s must be a mapping"):
        read_fields(_Section, [1], "s")


def test_lean_is_two_tuned_members_with_four_heads_and_averaged_weights() -> None:
    """``pitot/lean`` is ``pitot/tuned``'s model and optimizer with two members, the median
    and three upper quantile heads, and weight averaging."""
    lean, tuned = resolve("pitot/lean").flat(), resolve("pitot/tuned").flat()
    assert {k: v for k, v in lean.items() if tuned[k] != v} == {
        "training.ensemble": 2, "model.quantiles": [0.5, 0.9, 0.95, 0.98],
        "training.ema": 0.999}


def test_fast_is_tuned_on_a_short_schedule() -> None:
    """``pitot/fast`` is ``pitot/tuned``'s model and optimizer on fewer steps at a higher,
    warmed-up and decayed learning rate."""
    fast, tuned = resolve("pitot/fast").flat(), resolve("pitot/tuned").flat()
    assert {k: v for k, v in fast.items() if tuned[k] != v} == {
        "training.steps": 800, "training.learning_rate": 0.03,
        "training.warmup": 250, "training.decay_steps": 400}
