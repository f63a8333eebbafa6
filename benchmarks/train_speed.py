"""Training speed: one preset (``pitot`` unless ``--preset``) for 20,000 steps on the real data
(level 0.5, replicate 0).

    python benchmarks/train_speed.py [--data-dir DIR] [--steps N] [--preset NAME] [--inter-op N]
                                     [--per-step N]

Prints steps per second, wall time, the CPU time of training (build, compile, steps and
validations; a fairer figure than wall time when other work shares the cores) and peak memory;
the last line is one JSON object with the keys preset, steps, wall_s, cpu_s, steps_per_s and
peak_rss_mb.

With ``--per-step N`` it trains no run: it builds the trainer, runs 50 steps to compile and
warm up, then times three rounds of N optimizer steps (no validation) and prints the CPU
milliseconds per step of each round and the peak memory; the last line is one JSON object with
the keys preset, steps, cpu_ms_per_step and peak_rss_mb. On a shared machine that is the
figure to compare two versions by (alternate them: wall time there mostly measures the other
work).
"""

from __future__ import annotations

import argparse

from common import (
    add_data_options,
    cpu_ms_per_step,
    emit,
    experiment,
    peak_rss_mb,
    train_run,
)

from pitot_tf.training import runtime
from pitot_tf.training.trainer import Trainer

DEFAULT_STEPS = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_data_options(parser, steps=DEFAULT_STEPS, overrides=False)
    parser.add_argument("--preset", default="pitot")
    parser.add_argument("--inter-op", type=int, default=None,
                        help="inter-op threads (default: pitot_tf.training.runtime's choice)")
    parser.add_argument("--per-step", type=int, default=None, metavar="N",
                        help="time rounds of N steps (CPU ms per step) instead of a run")
    args = parser.parse_args()
    if args.inter_op is not None:
        runtime.INTER_OP_THREADS = args.inter_op
    run = experiment(args.preset, level=0.5, replicate=0, data_dir=args.data_dir,
                     steps=args.steps)
    if args.per_step:
        per_step(args.preset, Trainer(run.config, run.dataset, run.split), args.per_step)
        return
    result, timing = train_run(run)
    peak_mb = peak_rss_mb()
    print(
        f"{args.preset}: {args.steps} steps in {result.wall_s:.1f} s "
        f"({result.steps_per_s:.0f} steps/s, {timing.cpu_s:.1f} s CPU), peak RSS {peak_mb:.0f} MB"
    )
    emit({
        "preset": args.preset,
        "steps": args.steps,
        "wall_s": round(result.wall_s, 2),
        "cpu_s": round(timing.cpu_s, 1),
        "steps_per_s": round(result.steps_per_s, 1),
        "peak_rss_mb": round(peak_mb, 1),
    })


def per_step(preset: str, trainer: Trainer, steps: int) -> None:
    """Print CPU milliseconds per optimizer step (:func:`common.cpu_ms_per_step`) and the
    peak RSS."""
    rounds = cpu_ms_per_step(trainer, steps)
    peak_mb = peak_rss_mb()
    print(f"{preset}: CPU ms per step {rounds}, peak RSS {peak_mb:.0f} MB")
    emit({"preset": preset, "steps": steps, "cpu_ms_per_step": rounds,
          "peak_rss_mb": round(peak_mb, 1)})


if __name__ == "__main__":
    main()
