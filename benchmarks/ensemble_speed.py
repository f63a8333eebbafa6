"""Wall time of an ensemble trained in one program against its members trained one by one.

    python benchmarks/ensemble_speed.py [--members 5] [--steps 2000] [--level 0.5] [--data-dir DIR]

Trains ``training.ensemble=E`` once, then E single models (seeds 42, 43, ...) in a row, on
the same split of the real data, and prints each one's wall time (build, baseline fit,
compilation and training) and training-loop time, with the load average before and after
(the machine may be shared). The last line is one JSON object with the totals.
"""

from __future__ import annotations

import argparse

from common import add_data_options, emit, experiment, load_average, stopwatch, train_run


def timed(preset: str, overrides: dict[str, object], args: argparse.Namespace) -> dict[str, float]:
    """``total_s`` (prepare, build and train) and ``loop_s`` (training steps) of one run."""
    with stopwatch() as timing:
        run = experiment(preset, overrides, args.level, 0, args.data_dir, steps=args.steps)
        result, _ = train_run(run)
    return {"total_s": timing.wall_s, "loop_s": result.wall_s,
            "best_val_loss": result.best_val_loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--level", type=float, default=0.5)
    add_data_options(parser, steps=2000, overrides=False)
    args = parser.parse_args()
    load_before = load_average()
    together = timed("pitot", {"training.ensemble": args.members}, args)
    print(f"one program, {args.members} members: {together}", flush=True)
    alone = []
    for member in range(args.members):
        alone.append(timed("pitot", {"seed": 42 + member}, args))
        print(f"single model {member}: {alone[-1]}", flush=True)
    emit({
        "members": args.members, "steps": args.steps,
        "one_program_total_s": together["total_s"], "one_program_loop_s": together["loop_s"],
        "in_a_row_total_s": sum(run["total_s"] for run in alone),
        "in_a_row_loop_s": sum(run["loop_s"] for run in alone),
        "load_before": load_before, "load_after": load_average(),
    })


if __name__ == "__main__":
    main()
