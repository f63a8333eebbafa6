"""``pitot-tf search export``: a trial of a study as a preset YAML for ``train --preset``.

The preset holds the trial's config values that differ from the defaults, so that
``resolve(NAME)`` rebuilds its config exactly, and a ``source`` section saying where it came
from. It is written to ``studies/presets/NAME.yaml`` (``$PITOT_PRESETS``).
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from pitot_tf.config import Config
from pitot_tf.errors import ConfigError
from pitot_tf.presets import BUILTIN_PRESETS, user_preset_dir
from pitot_tf.redaction import redact
from pitot_tf.search.objective import ATTR_RUN_ID, CONFIG_ATTR
from pitot_tf.search.parent_run import trial_metrics
from pitot_tf.search.storage import open_storage, storage_location
from pitot_tf.search.studies import StudySpec, load_study

#: Run-time switches that say nothing about the model; never exported.
NOT_EXPORTED = ("training.progress",)


def choose_trial(
    study: optuna.Study, spec: StudySpec, number: int | None
) -> optuna.trial.FrozenTrial:
    """Trial ``number``, else the best trial (single objective only)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if number is not None:
        chosen = [t for t in complete if t.number == number]
        if not chosen:
            raise ConfigError(f"study '{spec.name}' has no COMPLETE trial number {number}")
        return chosen[0]
    if not complete:
        raise ConfigError(f"study '{spec.name}' has no COMPLETE trial to export")
    if spec.multi_objective:
        front = sorted(t.number for t in study.best_trials)
        raise ConfigError(f"study '{spec.name}' has several objectives: choose a trial of the "
                          f"Pareto front with --trial (one of {front})")
    return study.best_trial


def trial_config(trial: optuna.trial.FrozenTrial) -> Config:
    """The trial's config: the defaults with its ``config.<key>`` user attributes."""
    changed = {k.removeprefix(CONFIG_ATTR): v for k, v in trial.user_attrs.items()
               if k.startswith(CONFIG_ATTR)}
    if not changed:
        raise ConfigError(f"trial {trial.number} has no stored config (user attributes "
                          f"'{CONFIG_ATTR}<key>')")
    return Config.from_dict(changed)


def preset_path(name: str, directory: Path | None = None) -> Path:
    """``<preset dir>/NAME.yaml``; NAME may hold ``/`` but not ``..``, nor be built in."""
    parts = Path(name).parts
    if not name or Path(name).is_absolute() or ".." in parts or name.endswith((".yaml", "/")):
        raise ConfigError(f"--out '{name}' must be a preset name like 'tuned/pitot' (no "
                          "'..', no leading '/', no '.yaml')")
    if name in BUILTIN_PRESETS:
        raise ConfigError(f"--out '{name}' is a built-in preset; choose another name")
    return (directory or user_preset_dir()) / f"{name}.yaml"


def export_trial(study: str | Path, out: str, storage: str | None = None,
                 trial_number: int | None = None, force: bool = False,
                 directory: Path | None = None) -> Path:
    """Write trial ``trial_number`` (default: the best) of ``study`` as preset ``out``."""
    spec = load_study(study)
    path = preset_path(out, directory)
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; pass --force to overwrite it")
    location = storage_location(spec, storage)
    if "://" not in location and not Path(location).is_file():
        raise ConfigError(f"study '{spec.name}' has no storage at {location}; run "
                          f"`pitot-tf search --study {spec.name}` first or pass --storage")
    try:
        optuna_study = optuna.load_study(study_name=spec.name, storage=open_storage(location))
    except KeyError as error:
        raise ConfigError(f"no study '{spec.name}' in {redact(location)}") from error
    trial = choose_trial(optuna_study, spec, trial_number)
    values = trial_config(trial).changed()
    content = {"overrides": {k: v for k, v in values.items() if k not in NOT_EXPORTED},
               "source": _source(spec, location, trial)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def _source(spec: StudySpec, location: str, trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    return {
        "study": spec.name, "study_file": str(spec.path), "storage": redact(location),
        "trial": trial.number, "preset": spec.preset, "level": spec.level,
        "replicates": list(spec.replicates),
        "values": dict(zip(spec.metric_names, trial.values or [], strict=False)),
        "metrics": trial_metrics(trial),
        "mlflow_run_id": trial.user_attrs.get(ATTR_RUN_ID),
        "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
