"""Search benchmark: the shipped ``pitot`` study, 30 trials at level 0.5 on the real data.

    python benchmarks/search.py [--data-dir DIR] [--n-trials 30] [--workers 1]
                                [--pruner study|none] [--storage PATH_OR_URL]
                                [--set key=value ...] [--no-test]

``--pruner none`` runs the same study without pruning (as study ``pitot-nopruning``, from a
copy of the study file), for the wall time with and without pruning. Uses a fresh journal file
in a temporary folder unless ``--storage`` is given, and MLflow wherever
``MLFLOW_TRACKING_URI`` points. After the study, the enqueued default (trial 0) and the best
trial are retrained on the study's level and replicate and scored on the *test* split, which
the search never saw (skip with ``--no-test``). Prints one line per trial and a summary; the
last line is one JSON object.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import optuna
import yaml
from common import (
    ALPHA,
    REPO,
    add_data_options,
    bound_metrics,
    emit,
    experiment,
    overrides_of,
    work_folder,
)

from pitot_tf.config import Config
from pitot_tf.redaction import redact
from pitot_tf.search.export import trial_config
from pitot_tf.search.runner import run_search
from pitot_tf.search.storage import open_storage
from pitot_tf.search.studies import load_study
from pitot_tf.training import train

STUDY = REPO / "studies" / "pitot.yaml"
REAL_DATA = REPO.parent / "shared" / "pitot-data"


def study_file(pruner: str, folder: Path) -> Path:
    """The shipped study, or a copy of it named ``pitot-nopruning`` with pruning off."""
    if pruner == "study":
        return STUDY
    raw = yaml.safe_load(STUDY.read_text())
    raw["pruner"] = {"kind": "none"}
    raw["description"] = "The pitot study without pruning (benchmark)."
    path = folder / "pitot-nopruning.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_scores(config: Config, level: float, replicate: int, data_dir: str) -> dict[str, float]:
    """Retrain ``config`` and return its test MAPE and width at α = 0.05 per objective."""
    run = experiment("pitot", {}, level, replicate, data_dir)
    result = train(config, run.dataset, run.split)
    metrics = bound_metrics(result.model, run, (ALPHA,))
    return {key.removeprefix("test_"): round(value, 5) for key, value in metrics.items()
            if key.startswith("test_") and ("mape" in key or "width" in key)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_data_options(parser, data_dir=os.environ.get("PITOT_DATA") or str(REAL_DATA),
                     steps=False)
    parser.add_argument("--n-trials", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pruner", choices=["study", "none"], default="study")
    parser.add_argument("--storage", default=None)
    parser.add_argument("--no-test", dest="test", action="store_false")
    args = parser.parse_args()
    folder = work_folder(None, "pitot-search-")
    path = study_file(args.pruner, folder)
    spec = load_study(path)
    storage = args.storage or str(folder / f"{spec.name}.journal")
    result = run_search(path, args.n_trials, storage, args.workers,
                        overrides=overrides_of(args, quiet=False), data_dir=args.data_dir)
    study = optuna.load_study(study_name=spec.name, storage=open_storage(storage))
    trials = study.get_trials()
    for trial in trials:
        wall = trial.duration.total_seconds() if trial.duration else float("nan")
        print(f"trial {trial.number:>3} {trial.state.name:<8} value {trial.value} "
              f"({wall:.1f} s) {trial.params}")
    states = [t.state.name for t in trials]
    summary: dict[str, Any] = {
        "study": spec.name, "n_trials": args.n_trials, "workers": args.workers,
        "complete": states.count("COMPLETE"), "pruned": states.count("PRUNED"),
        "failed": states.count("FAIL"), "wall_s": round(result.wall_s, 1),
        "default_value": trials[0].value, "best_value": study.best_value,
        "best_trial": study.best_trial.number, "best_params": study.best_trial.params,
    }
    print(f"{result.finished}/{args.n_trials} trials in {result.wall_s:.0f} s "
          f"(storage {redact(storage)}); best trial {study.best_trial.number}: {study.best_value}")
    if args.test:
        replicate = spec.replicates[0]
        for name, trial in (("default", trials[0]), ("best", study.best_trial)):
            summary[f"{name}_test"] = test_scores(trial_config(trial), spec.level, replicate,
                                                  args.data_dir)
            print(f"{name} (trial {trial.number}) on test: {summary[f'{name}_test']}", flush=True)
    emit(summary)


if __name__ == "__main__":
    main()
