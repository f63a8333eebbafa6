"""The model of docs/planning.md's walkthrough: draw ``d``'s ``pitot/cold`` model (the one
``active.py`` plans with; trained and cached by ``few_shot_models.py`` when missing), saved
as a ``pyfunc-model`` folder with bounds calibrated on the draw's calibration workloads, and
the true runtimes of one held-out workload alone, to play "measure it" with.

    python benchmarks/planning_walkthrough.py [--draw 0] [--out planning-model]
        [--workload NAME] [--cache DIR]
    python benchmarks/planning_walkthrough.py --score MEASURED.json [--out planning-model]

Prints the held-out workload's name (the first of the draw's test workloads unless
``--workload``) and writes ``OUT/model`` (the pyfunc-model folder) and ``OUT/truth.json``
(``{platform: runtime_s}`` of every platform it ran on alone). With ``--score FILE`` (runs of
the workload, as ``pitot-tf plan --measured`` reads them) it instead prints the MAPE of the
saved model on the workload's other platforms before and after folding those runs in.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from common import add_data_options
from few_shot_models import DEFAULT_CACHE, model_path, trained_model


def score(out: Path, measured: Path) -> None:
    """MAPE on the platforms not in ``measured``, zero-shot and after folding it in."""
    import mlflow.pyfunc

    from pitot_tf.planning.fold import fold_measured
    from pitot_tf.planning.measured import read_measured
    from pitot_tf.planning.served import planning_model

    pyfunc = mlflow.pyfunc.load_model(str(out / "model")).unwrap_python_model()
    truth = json.loads((out / "truth.json").read_text())
    workload = json.loads((out / "workload.json").read_text())["workload"]
    index = pyfunc.names.workloads[workload]
    runs = read_measured(measured, pyfunc.names)
    taken = {int(p) for p in runs.rows.platform}
    rest = [p for p in truth if pyfunc.names.platforms[p] not in taken]
    platform = np.array([pyfunc.names.platforms[p] for p in rest], dtype=np.int32)
    true_s = np.array([truth[p] for p in rest])
    model, _ = planning_model(pyfunc, 0.05)
    for label, m in (("zero-shot", model), ("folded in", fold_measured(model, index, runs))):
        log_t = m.tables.predict(platform, np.full(len(rest), index, np.int32),
                                 np.full((len(rest), 1), -1, np.int32))[:, 0]
        pred_s = np.exp(log_t.astype(np.float64)) * m.seconds_per_unit
        print(f"{workload}, {label}: MAPE {np.mean(np.abs(true_s / pred_s - 1)):.1%} on its "
              f"{len(rest)} other platforms")


def main() -> None:
    import mlflow

    from pitot_tf.conformal.evaluate import evaluate
    from pitot_tf.data.cold import make_cold_split
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.serving.pyfunc import MODEL_FROM_CODE, write_artifacts
    from pitot_tf.tracking.models import pyfunc_signature, pyfunc_state

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_options(parser, overrides=False)
    parser.add_argument("--draw", type=int, default=0)
    parser.add_argument("--preset", default="pitot/cold")
    parser.add_argument("--workload", default=None)
    parser.add_argument("--out", type=Path, default=Path("planning-model"))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--score", type=Path, default=None, metavar="MEASURED")
    args = parser.parse_args()
    if args.score is not None:
        score(args.out, args.score)
        return
    dataset = load_dataset(args.data_dir)
    split = make_cold_split(dataset, 1.0, args.draw, mode="cold-workload")
    path = model_path(args.cache, args.preset, "cold-workload", args.draw, args.steps)
    model = trained_model(path, args.preset, dataset, split, args.steps)
    state = pyfunc_state(dataset, evaluate(model, dataset, split))
    shutil.rmtree(args.out / "model", ignore_errors=True)  # save_model wants a new folder
    artifacts = write_artifacts(model, state, args.out / "artifacts")
    mlflow.pyfunc.save_model(args.out / "model", python_model=str(MODEL_FROM_CODE),
                             artifacts=artifacts, signature=pyfunc_signature(),
                             pip_requirements=["mlflow"])
    obs = dataset.objectives["mf"]
    test = split.rows("mf", "test")
    names = dataset.workloads.names
    workload = args.workload or str(names[obs.workload[test][0]])
    rows = test[names[obs.workload[test]] == workload]
    if not len(rows):
        raise SystemExit(f"{workload} is not a held-out workload of draw {args.draw}")
    seconds = dataset.seconds(obs.runtime[rows])
    truth = {str(dataset.platforms.names[p]): float(s)
             for p, s in zip(obs.platform[rows], np.asarray(seconds), strict=True)}
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1))
    (args.out / "workload.json").write_text(json.dumps({"workload": workload}))
    print(f"held-out workload: {workload} ({len(truth)} platforms); model: {args.out / 'model'}")


if __name__ == "__main__":
    main()
