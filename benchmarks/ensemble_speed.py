"""Wall time of an ensemble trained in one program against its members trained one by one.

    python benchmarks/ensemble_speed.py [--members 5] [--steps 2000] [--level 0.5] [--data-dir DIR]

Trains ``training.ensemble=E`` once, then E single models (seeds 42, 43, ...) in a row, on
the same split of the real data, and prints each one's wall time (build, baseline fit,
compilation and training) and training-loop time, with the load average before and after
(the machine may be shared). The last line is one JSON object with the totals.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from pitot_tf.training import train
from pitot_tf.training.experiment import prepare


def timed(preset: str, overrides: dict[str, object], args: argparse.Namespace) -> dict[str, float]:
    """``total_s`` (prepare, build and train) and ``loop_s`` (training steps) of one run."""
    started = time.perf_counter()
    experiment = prepare(preset, {"training.progress": False, **overrides}, args.level, 0,
                         args.data_dir, None, args.steps)
    result = train(experiment.config, experiment.dataset, experiment.split)
    return {"total_s": time.perf_counter() - started, "loop_s": result.wall_s,
            "best_val_loss": result.best_val_loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--level", type=float, default=0.5)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    load_before = os.getloadavg()
    together = timed("pitot", {"training.ensemble": args.members}, args)
    print(f"one program, {args.members} members: {together}", flush=True)
    alone = []
    for member in range(args.members):
        alone.append(timed("pitot", {"seed": 42 + member}, args))
        print(f"single model {member}: {alone[-1]}", flush=True)
    summary = {
        "members": args.members, "steps": args.steps,
        "one_program_total_s": together["total_s"], "one_program_loop_s": together["loop_s"],
        "in_a_row_total_s": sum(run["total_s"] for run in alone),
        "in_a_row_loop_s": sum(run["loop_s"] for run in alone),
        "load_before": load_before, "load_after": os.getloadavg(),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
