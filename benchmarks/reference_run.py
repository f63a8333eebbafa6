"""One training run of the reference implementation (WiseLabCMU/pitot, JAX), scored in the same
process: what ``benchmarks/time_to_accuracy.py`` times as the reference's whole process.

    cd REFERENCE_CLONE && REFERENCE_VENV/bin/python benchmarks/reference_run.py \
        --splits DIR --level 0.5 --replicate 0 [--preset pitot] [--steps N]

Runs under the reference's own environment (made by ``bash benchmarks/reference.sh``), from
its clone (it imports ``prediction``, ``pitot`` and ``scripts`` from the working folder), and
imports nothing of pitot-tf. It trains the way ``reference.sh`` drives ``manage.py train``:
the matrix and 2-way objectives only, with the whole interference weight on 2-way
(3 × the per-objective w/3), and replicate ``r``'s seed derived as ``manage.py train``
derives it (from the level, the number of split files in the level's folder and the preset's
seed), so its accuracy is that of ``reference.sh``'s run on the same file. It then scores the
kept (best validation) weights as ``manage.py evaluate`` does: the MAPE of the first head,
``|exp(log t - log t̂) - 1|``, on the validation and test rows.

The last line printed is one JSON object: ``test`` and ``val`` (MAPE per objective, as
fractions), ``train_s`` (the training loop's wall seconds) and ``peak_rss_mb``.
"""

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.getcwd())

import numpy as np  # noqa: E402
from jax import random  # noqa: E402
from pitot import models, presets  # noqa: E402
from prediction import ObjectiveSet, Split, loss  # noqa: E402


def config(preset: str, steps: int | None) -> dict:
    """The preset's config restricted to the matrix and 2-way objectives (as reference.sh)."""
    cfg = presets.get_config(preset)
    objectives = cfg["objectives"]
    objectives["if2"]["weight"] = 3 * objectives["if2"]["weight"]  # w/3 each -> w on if2
    for dropped in ("if3", "if4"):
        objectives.pop(dropped, None)
    if steps:
        cfg["training_args"]["steps"] = steps
    return cfg


def seed(splits: str, level: str, replicate: int, preset_seed: int):
    """The key ``manage.py train`` gives replicate ``replicate`` of ``level``."""
    files = sorted(os.listdir(os.path.join(splits, level)))
    keys = random.split(random.PRNGKey(int(float(level) * 1e6)), len(files))
    index = files.index(f"{replicate}.npz")
    return random.fold_in(keys[index], preset_seed)


def mape(model, params, splits, part: str) -> dict[str, float]:
    """MAPE of the first head on ``part`` (``val`` or ``test``) per objective."""
    indices = {k: getattr(v, part) for k, v in splits.items()}
    predictions = model.evaluate(params, model.objectives.index(indices))
    error = loss.PercentError(log=True)
    return {k: float(np.mean(error(p.y_true, p.y_hat[:, :1])[:, 0]))
            for k, p in predictions.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", required=True)
    parser.add_argument("--level", default="0.5")
    parser.add_argument("--replicate", type=int, default=0)
    parser.add_argument("--preset", default="pitot")
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args()
    cfg = config(args.preset, args.steps)
    objectives = ObjectiveSet.from_config(cfg["objectives"])
    model = models[cfg["model"]].from_config(objectives, **cfg["model_args"])
    path = os.path.join(args.splits, args.level, f"{args.replicate}.npz")
    splits = Split.from_npz(path, objectives.objectives)
    key = seed(args.splits, args.level, args.replicate, cfg["seed"])
    start = time.perf_counter()
    state, _ = model.train(key=key, splits=splits, tqdm=lambda x, **_: x,
                           **cfg["training_args"])
    train_s = time.perf_counter() - start
    record = {"test": mape(model, state.params, splits, "test"),
              "val": mape(model, state.params, splits, "val"),
              "train_s": round(train_s, 2),
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
