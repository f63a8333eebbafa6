"""One accessor for a model's parts (:func:`pitot_tf.models.parts.model_parts`) on every model
kind and ensemble layout, and its errors when a part is absent."""

from __future__ import annotations

import keras
import pytest
from model_support import resolve_small

from pitot_tf.data.dataset import Dataset
from pitot_tf.errors import PitotError
from pitot_tf.models import build_model
from pitot_tf.models.baseline import LinearScaling
from pitot_tf.models.cold_dropout import ColdDropout
from pitot_tf.models.ensemble import MemberSlice, member_models
from pitot_tf.models.parts import MissingPart, model_parts
from pitot_tf.models.pitot import PitotInteraction

SMALL = {"model.layers": [8], "model.mf_dim": 4, "model.monolith_layers": [8],
         "model.attention_layers": [8], "model.output_layers": [4]}


def _model(dataset: Dataset, preset: str, **exact: object) -> keras.Model:
    return build_model(resolve_small(preset, SMALL, exact), dataset)


@pytest.mark.parametrize("preset, kind", [
    ("pitot", PitotInteraction), ("baseline/factorization", PitotInteraction),
    ("baseline/monolith", None), ("baseline/attention", None),
])
def test_a_single_model_is_one_baseline_plus_one_interaction(
    synth_dataset: Dataset, preset: str, kind: type | None
) -> None:
    model = _model(synth_dataset, preset)
    parts = model_parts(model)
    member = parts.single()
    assert isinstance(member.baseline, LinearScaling) and member.baseline.name == "baseline"
    assert parts.baseline is member.baseline and parts.interaction is member.interaction
    assert parts.member_names == () and not parts.shared and member.cold_dropout is None
    assert member.interaction in model.layers and member.head is None
    if kind is None:
        with pytest.raises(MissingPart, match="is not a Pitot model"):
            parts.pitot()
    else:
        towers = parts.pitot().workload_tower, parts.pitot().platform_tower
        assert [tower.name for tower in towers] == ["workload_tower", "platform_tower"]


def test_cold_dropout_is_a_part_of_each_member(synth_dataset: Dataset) -> None:
    single = model_parts(_model(synth_dataset, "pitot", **{"model.cold_dropout": 0.3}))
    assert isinstance(single.single().cold_dropout, ColdDropout)
    ensemble = model_parts(_model(synth_dataset, "pitot/cold", **{"training.ensemble": 2}))
    drops = [member.cold_dropout for member in ensemble.members]
    assert [drop.name for drop in drops] == ["cold_dropout", "cold_dropout_1"]


@pytest.mark.parametrize("preset", ["pitot", "baseline/monolith"])
def test_ensemble_members_have_their_own_layers(synth_dataset: Dataset, preset: str) -> None:
    model = _model(synth_dataset, preset, **{"training.ensemble": 3})
    parts = model_parts(model)
    assert parts.member_names == ("member_0", "member_1", "member_2") and not parts.shared
    assert [b.name for b in parts.baselines] == ["baseline", "baseline_1", "baseline_2"]
    base = parts.interaction.name
    assert [i.name for i in parts.interactions] == [base, f"{base}_1", f"{base}_2"]
    with pytest.raises(MissingPart, match="ensemble of 3 members, not one baseline"):
        parts.single()
    for member, own in zip(member_models(model), parts.members, strict=True):
        found = model_parts(member).single()
        assert found.baseline is own.baseline and found.interaction is own.interaction


def test_shared_members_share_one_interaction(synth_dataset: Dataset) -> None:
    model = _model(synth_dataset, "pitot/shared", **{"training.ensemble": 3})
    parts = model_parts(model)
    assert parts.shared and len(parts.members) == 3
    assert parts.interactions == (parts.pitot(),) and parts.pitot().members == 3
    assert all(isinstance(member.head, MemberSlice) for member in parts.members)
    assert [member.head.member for member in parts.members] == [0, 1, 2]
    with pytest.raises(MissingPart, match="member of an ensemble with shared towers"):
        model_parts(member_models(model)[1]).single()


def test_a_model_without_the_parts_is_refused() -> None:
    platform = keras.Input(shape=(), dtype="int32", name="platform")
    plain = keras.Model(platform, keras.layers.Embedding(4, 2)(platform), name="plain")
    with pytest.raises(MissingPart, match="'plain' is not one baseline plus one interaction"):
        model_parts(plain)
    baseline = LinearScaling(4, 4, name="baseline")
    value = baseline(platform, platform)
    member = keras.layers.Identity(name="member_0")(value)
    headless = keras.Model(platform, member, name="headless")
    with pytest.raises(MissingPart, match="'headless' has no interaction layer"):
        model_parts(headless)
    error = MissingPart("x")
    assert isinstance(error, PitotError) and isinstance(error, ValueError)


def test_an_ensemble_member_without_its_baseline_is_refused(synth_dataset: Dataset) -> None:
    model = _model(synth_dataset, "pitot")
    first = keras.layers.Identity(name="member_0")(model.output)
    second = keras.layers.Identity(name="member_1")(model.output)
    odd = keras.Model(model.input, [first, second], name="odd")
    with pytest.raises(MissingPart, match="'odd' has no baseline layer 'baseline_1' for member 1"):
        model_parts(odd)
