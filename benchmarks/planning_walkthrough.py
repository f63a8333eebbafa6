"""The model of docs/planning.md's walkthroughs: draw ``d``'s ``pitot/cold`` model (the one
``active.py`` plans with; trained and cached by ``few_shot_models.py`` when missing), saved
as a ``pyfunc-model`` folder with bounds (and the fold-in prior) calibrated on the draw's
calibration entities, as a logged model of a cold split has them, and the true runtimes of
one held-out workload alone (``--mode cold-platform``: of the workloads one held-out platform
ran alone), to play "measure it" with.

    python benchmarks/planning_walkthrough.py [--mode cold-workload] [--draw 0]
        [--out planning-model] [--workload NAME | --platform NAME] [--cache DIR]
    python benchmarks/planning_walkthrough.py --score MEASURED.json [--out planning-model]

Prints the held-out entity's name (the first of the draw's test entities unless named) and
writes ``OUT/model`` (the pyfunc-model folder), ``OUT/truth.json`` (``{platform: runtime_s}``
of every platform the workload ran on alone, or ``{workload: runtime_s}`` of every workload
the platform ran), ``OUT/entity.json`` and, for a platform, ``OUT/platform_features.txt``
(its feature vector: the walkthrough asks for it as a new platform by its features). With
``--score FILE`` (runs of the entity, as ``pitot-tf plan --measured`` reads them) it instead
prints the MAPE of the saved model on the entity's other runs before and after folding those
runs in.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from common import add_data_options
from few_shot_models import DEFAULT_CACHE, model_path, trained_model


def score(out: Path, measured: Path) -> None:
    """MAPE on the entity's runs not in ``measured``, zero-shot and after folding it in."""
    import mlflow.pyfunc

    from pitot_tf.models.fold_in import Entity
    from pitot_tf.planning.entity import row_indices
    from pitot_tf.planning.fold import fold_measured
    from pitot_tf.planning.measured import read_measured
    from pitot_tf.planning.rows import Rows
    from pitot_tf.planning.served import planning_model

    pyfunc = mlflow.pyfunc.load_model(str(out / "model")).unwrap_python_model()
    truth = json.loads((out / "truth.json").read_text())
    planned = json.loads((out / "entity.json").read_text())
    axis, name = planned["axis"], planned["name"]
    others = pyfunc.names.platforms if axis == "workload" else pyfunc.names.workloads
    features = np.asarray(planned["features"], dtype=np.float32) if planned["features"] else None
    model, index = planning_model(pyfunc, 0.05, features, axis=axis)
    known = pyfunc.names.workloads if axis == "workload" else pyfunc.names.platforms
    entity = Entity(axis, index if features is not None else known[name])
    runs = read_measured(measured, pyfunc.names, axis)
    taken = {int(p) for p in runs.rows.other}
    rest = [p for p in truth if others[p] not in taken]
    rows = Rows(np.array([others[p] for p in rest], dtype=np.int32),
                np.full((len(rest), 1), -1, np.int32))
    true_s = np.array([truth[p] for p in rest])
    folded = fold_measured(model, entity, runs)
    for label, m in (("zero-shot", model), ("folded in", folded)):
        log_t = m.tables.predict(*row_indices(entity, rows), rows.interferers)[:, 0]
        pred_s = np.exp(log_t.astype(np.float64)) * m.seconds_per_unit
        print(f"{name}, {label}: MAPE {np.mean(np.abs(true_s / pred_s - 1)):.1%} on its "
              f"{len(rest)} other {entity.other}s")


def held_out_truth(dataset: Any, split: Any, axis: str, name: str | None
                   ) -> tuple[str, dict[str, float]]:
    """The held-out entity's name (``name``, else the first test one) and its true runtimes
    alone, in seconds, by the name of the other axis."""
    obs = dataset.objectives["mf"]
    test = split.rows("mf", "test")
    own, other = ((obs.workload, obs.platform) if axis == "workload"
                  else (obs.platform, obs.workload))
    names = (dataset.workloads if axis == "workload" else dataset.platforms).names
    other_names = (dataset.platforms if axis == "workload" else dataset.workloads).names
    name = name or str(names[own[test][0]])
    rows = test[names[own[test]] == name]
    if not len(rows):
        raise SystemExit(f"{name} is not a held-out {axis} of this draw")
    seconds = np.asarray(dataset.seconds(obs.runtime[rows]))
    return name, {str(other_names[o]): float(t)
                  for o, t in zip(other[rows], seconds, strict=True)}


def main() -> None:
    import mlflow

    from pitot_tf.conformal.evaluate import evaluate
    from pitot_tf.data.cold import make_cold_split
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.serving.pyfunc import MODEL_FROM_CODE, write_artifacts
    from pitot_tf.tracking.models import pyfunc_signature, served_parts

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_options(parser, overrides=False)
    parser.add_argument("--mode", choices=("cold-workload", "cold-platform"),
                        default="cold-workload")
    parser.add_argument("--draw", type=int, default=0)
    parser.add_argument("--preset", default="pitot/cold")
    parser.add_argument("--workload", default=None)
    parser.add_argument("--platform", default=None)
    parser.add_argument("--out", type=Path, default=Path("planning-model"))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--score", type=Path, default=None, metavar="MEASURED")
    args = parser.parse_args()
    if args.score is not None:
        score(args.out, args.score)
        return
    dataset = load_dataset(args.data_dir)
    split = make_cold_split(dataset, 1.0, args.draw, mode=args.mode)
    path = model_path(args.cache, args.preset, args.mode, args.draw, args.steps)
    model = trained_model(path, args.preset, dataset, split, args.steps)
    predictor, state = served_parts(model, dataset, evaluate(model, dataset, split))
    shutil.rmtree(args.out / "model", ignore_errors=True)  # save_model wants a new folder
    artifacts = write_artifacts(model, state, args.out / "artifacts", predictor)
    mlflow.pyfunc.save_model(args.out / "model", python_model=str(MODEL_FROM_CODE),
                             artifacts=artifacts, signature=pyfunc_signature(),
                             pip_requirements=["mlflow"])
    axis = "workload" if args.mode == "cold-workload" else "platform"
    name, truth = held_out_truth(dataset, split, axis, getattr(args, axis))
    features = None
    if axis == "platform":
        features = dataset.platforms.features[list(dataset.platforms.names).index(name)]
        (args.out / "platform_features.txt").write_text(" ".join(repr(float(v)) for v in features))
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1))
    (args.out / "entity.json").write_text(json.dumps({
        "axis": axis, "name": name,
        "features": None if features is None else [float(v) for v in features]}))
    print(f"held-out {axis}: {name} ({len(truth)} runs alone); model: {args.out / 'model'}")


if __name__ == "__main__":
    main()
