"""Training speed: the pitot preset for 20,000 steps on the real data (level 0.5, replicate 0).

    python benchmarks/train_speed.py [--data-dir DIR] [--steps N] [--preset NAME]

Prints steps per second, wall time and peak memory; the last line is one JSON object with
the keys steps, wall_s, steps_per_s and peak_rss_mb.
"""

from __future__ import annotations

import argparse
import json
import resource

from pitot_tf.training import train
from pitot_tf.training.experiment import prepare

DEFAULT_STEPS = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--preset", default="pitot")
    args = parser.parse_args()
    experiment = prepare(
        args.preset,
        {"training.progress": False},
        level=0.5,
        replicate=0,
        data_dir=args.data_dir,
        steps=args.steps,
    )
    result = train(experiment.config, experiment.dataset, experiment.split)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.preset}: {args.steps} steps in {result.wall_s:.1f} s "
        f"({result.steps_per_s:.0f} steps/s), peak RSS {peak_mb:.0f} MB"
    )
    print(
        json.dumps(
            {
                "steps": args.steps,
                "wall_s": round(result.wall_s, 2),
                "steps_per_s": round(result.steps_per_s, 1),
                "peak_rss_mb": round(peak_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
