"""Search cost: the shipped ``pitot`` study, 30 trials at level 0.5 on the real data.

    python benchmarks/search.py [--data-dir DIR] [--n-trials 30] [--workers 1]
                                [--storage PATH_OR_URL] [--set key=value ...]

Uses a fresh journal file in a temporary folder unless ``--storage`` is given, and MLflow
wherever ``MLFLOW_TRACKING_URI`` points. Prints one line per trial (state, value, wall time)
and a summary; the last line is one JSON object with the keys n_trials, complete, pruned,
failed, wall_s, s_per_trial, best_value and best_trial.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import optuna

from pitot_tf.config import parse_overrides
from pitot_tf.search.runner import run_search
from pitot_tf.search.storage import open_storage

STUDY = Path(__file__).resolve().parents[1] / "studies" / "pitot.yaml"
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "pitot-data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=os.environ.get("PITOT_DATA") or str(REAL_DATA))
    parser.add_argument("--n-trials", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--storage", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    storage = args.storage or str(Path(tempfile.mkdtemp(prefix="pitot-search-")) / "pitot.journal")
    result = run_search(STUDY, args.n_trials, storage, args.workers,
                        overrides=parse_overrides(args.overrides), data_dir=args.data_dir)
    study = optuna.load_study(study_name="pitot", storage=open_storage(storage))
    for trial in study.get_trials():
        wall = (trial.duration.total_seconds() if trial.duration else float("nan"))
        print(f"trial {trial.number:>3} {trial.state.name:<8} value {trial.value} "
              f"({wall:.1f} s)")
    states = [t.state.name for t in study.get_trials()]
    summary = {
        "n_trials": args.n_trials, "complete": states.count("COMPLETE"),
        "pruned": states.count("PRUNED"), "failed": states.count("FAIL"),
        "wall_s": round(result.wall_s, 1),
        "s_per_trial": round(result.wall_s / max(1, len(states)), 1),
        "best_value": result.best_values[0] if result.best_values else None,
        "best_trial": result.best_trial,
    }
    print(f"{result.finished}/{args.n_trials} trials in {result.wall_s:.0f} s "
          f"(storage {storage}); best trial {result.best_trial}: {result.best_values}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
