"""Fidelity variants of Pitot on the real data: interference form, trainable baseline, and
the rows the baseline is fitted on (docs/benchmarks.md, "Fidelity switches").

    [PITOT_DATA=DIR] python benchmarks/fidelity.py --level 0.5 \
        --replicates 0 1 2 3 4 --out fidelity.jsonl [--variants paper reference ...]
    python benchmarks/fidelity.py --summarize fidelity.jsonl

Each run trains ``pitot`` with one variant's overrides on the made split of
(level, replicate), calibrates conformal bounds on the validation rows and prints test MAPE
(mf, if2) and coverage and width at alpha = 0.05 (per objective). Runs go replicate by
replicate (every variant of a replicate before the next one), one JSON line each appended to
``--out``, so a partial file still compares variants on equal replicates; ``--summarize``
prints mean ± 2 standard errors per variant.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Measured at commit 709f15d, when the baseline was frozen by default; the overrides spell
#: that out so that the variants mean the same at any later default.
FROZEN = {"model.baseline_trainable": False}
VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {**FROZEN},
    "reference-form": {**FROZEN, "model.interference_form": "reference"},
    "trainable-baseline": {"model.baseline_trainable": True},
    "fit-train+val": {**FROZEN, "model.baseline_fit": "train+val"},
    "reference-all": {"model.interference_form": "reference", "model.baseline_trainable": True,
                      "model.baseline_fit": "train+val"},
}
METRICS = ("test_mf_mape", "test_if2_mape", "test_mf_coverage_0.05", "test_if2_coverage_0.05",
           "test_mf_width_0.05", "test_if2_width_0.05")


def run(variant: str, level: float, replicate: int, steps: int | None) -> dict[str, Any]:
    from pitot_tf.conformal.evaluate import evaluate
    from pitot_tf.training import train
    from pitot_tf.training.experiment import prepare

    overrides = {**VARIANTS[variant], "training.progress": False}
    experiment = prepare("pitot", overrides, level, replicate, steps=steps)
    started = time.perf_counter()
    result = train(experiment.config, experiment.dataset, experiment.split)
    metrics = evaluate(result.model, experiment.dataset, experiment.split).metrics()
    return {"variant": variant, "level": level, "replicate": replicate,
            "wall_s": round(time.perf_counter() - started, 1),
            **{k: metrics[k] for k in METRICS if k in metrics}}


def summarize(path: Path) -> None:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    print(f"{'variant':20s} n  " + "  ".join(f"{m[5:]:>22s}" for m in METRICS))
    for variant in VARIANTS:
        rows = [r for r in records if r["variant"] == variant]
        if not rows:
            continue
        cells = []
        for metric in METRICS:
            values = np.array([r[metric] for r in rows if metric in r])
            err = 2 * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
            cells.append(f"{100 * values.mean():9.2f}% ± {100 * err:5.2f}%")
        print(f"{variant:20s} {len(rows)}  " + "  ".join(f"{c:>22s}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--level", type=float, default=0.5)
    parser.add_argument("--replicates", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("fidelity.jsonl"))
    parser.add_argument("--summarize", type=Path, default=None)
    args = parser.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    for replicate in args.replicates:
        for variant in args.variants:
            record = run(variant, args.level, replicate, args.steps)
            print(json.dumps(record), flush=True)
            with open(args.out, "a") as handle:
                handle.write(json.dumps(record) + "\n")
    summarize(args.out)


if __name__ == "__main__":
    main()
