"""``search export``: the best trial becomes a preset that resolves to the trial's config."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from search_support import make_data, write_study

from pitot_tf.config import with_overrides
from pitot_tf.errors import ConfigError
from pitot_tf.presets import resolve
from pitot_tf.search.export import export_trial, trial_config
from pitot_tf.search.runner import ensure_study, run_search
from pitot_tf.search.storage import open_storage
from pitot_tf.search.studies import load_study


@pytest.fixture()
def preset_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "presets"
    monkeypatch.setenv("PITOT_PRESETS", str(directory))
    return directory


def add_finished_trial(path: Path, values: list[float], mf_dim: int) -> optuna.Study:
    """A COMPLETE trial with the user attributes a real one has, without training."""
    spec = load_study(path)
    study = ensure_study(spec, str(path.with_suffix(".journal")))
    config = with_overrides(spec.base_config(), {"model.mf_dim": mf_dim})
    study.add_trial(optuna.trial.create_trial(
        params={"training.learning_rate": 1e-3, "model.mf_dim": mf_dim},
        distributions={
            "training.learning_rate": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True),
            "model.mf_dim": optuna.distributions.IntDistribution(4, 32, log=True)},
        values=values, user_attrs={**{f"config.{k}": v for k, v in config.changed().items()},
                                   "mlflow_run_id": "abc", "val_loss": values[0]}))
    return study


def test_best_trial_round_trips_into_resolve(tmp_path: Path, preset_dir: Path) -> None:
    path = write_study(tmp_path)
    add_finished_trial(path, [0.5], mf_dim=8)
    study = add_finished_trial(path, [0.2], mf_dim=16)
    written = export_trial(path, "tuned/tiny")
    assert written == preset_dir / "tuned" / "tiny.yaml"
    content = yaml.safe_load(written.read_text())
    assert content["source"]["trial"] == study.best_trial.number
    assert content["source"]["mlflow_run_id"] == "abc"
    assert content["overrides"]["model.mf_dim"] == 16
    assert content["overrides"]["training.steps"] == 60
    assert "training.progress" not in content["overrides"]
    expected = trial_config(study.best_trial)
    assert resolve("tuned/tiny", {"training.progress": False}) == expected


@pytest.mark.end_to_end
def test_exported_preset_trains(tmp_path: Path, preset_dir: Path) -> None:
    from pitot_tf.training import train
    from pitot_tf.training.experiment import prepare

    data_dir = make_data(tmp_path / "data")
    path = write_study(tmp_path)
    run_search(path, 2, data_dir=data_dir, track=False)
    export_trial(path, "tiny-best")
    study = optuna.load_study(study_name="tiny",
                              storage=open_storage(str(path.with_suffix(".journal"))))
    experiment = prepare("tiny-best", {"training.steps": 20}, 0.5, 0, data_dir)
    assert experiment.config.model.mf_dim == study.best_trial.params["model.mf_dim"]
    result = train(experiment.config, experiment.dataset, experiment.split)
    assert result.best_step == 20


def test_export_refuses_ambiguous_or_unsafe_requests(tmp_path: Path, preset_dir: Path) -> None:
    path = write_study(tmp_path)
    with pytest.raises(ConfigError, match="no storage"):
        export_trial(path, "x")
    add_finished_trial(path, [0.5], mf_dim=8)
    with pytest.raises(ConfigError, match="built-in preset"):
        export_trial(path, "baseline/monolith")
    with pytest.raises(ConfigError, match="must be a preset name"):
        export_trial(path, "../outside")
    with pytest.raises(ConfigError, match="no COMPLETE trial number 7"):
        export_trial(path, "x", trial_number=7)
    export_trial(path, "x")
    with pytest.raises(ConfigError, match="--force"):
        export_trial(path, "x")
    assert export_trial(path, "x", force=True).is_file()


def test_two_objectives_need_a_trial_number(tmp_path: Path, preset_dir: Path) -> None:
    path = write_study(tmp_path, objective={"metrics": ["val_mape", "val_width"]})
    add_finished_trial(path, [0.1, 0.5], mf_dim=8)
    add_finished_trial(path, [0.2, 0.3], mf_dim=16)
    with pytest.raises(ConfigError, match=r"Pareto front with --trial \(one of \[1, 2\]\)"):
        export_trial(path, "front")
    written = export_trial(path, "front", trial_number=2)
    assert yaml.safe_load(written.read_text())["overrides"]["model.mf_dim"] == 16
