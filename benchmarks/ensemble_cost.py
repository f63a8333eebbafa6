"""Cost of cheaper ensembles against one ``pitot/tuned`` model, measured interleaved.

    python benchmarks/ensemble_cost.py [--base pitot/tuned] [--per-step 100 | --steps 2000]
        [--rounds 2] [--data-dir DIR] NAME=KEY=VALUE[,KEY=VALUE...] [NAME=PRESET ...]

Each candidate is a name and either a preset (``lean=pitot/lean``) or overrides of ``--base``
(``e3=training.ensemble=3,model.quantiles=[0.5,0.95]``; a comma inside brackets stays in its
value). Every round measures the base, then each candidate, in this one process (level 0.5,
replicate 0 of the real data), so the machine's load falls on all of them alike.

``--per-step N`` (default) times N optimizer steps after a warm-up, no validation
(:func:`common.cpu_ms_per_step`): CPU ms per step. ``--steps N`` trains each for N steps as a
run does (build, baseline fit, compilation, steps and validations): wall and CPU seconds. Each
line gives the figure and its ratio to the base's in the same round; the last line is one JSON
object ``{name: [ratio per round]}``.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from common import (
    add_data_options,
    cpu_ms_per_step,
    emit,
    experiment,
    load_average,
    train_run,
)

from pitot_tf.config import parse_overrides
from pitot_tf.presets import all_presets

BASE = "base"


def candidate(text: str, base: str) -> tuple[str, str, dict[str, Any]]:
    """``NAME=PRESET`` or ``NAME=KEY=VALUE,...`` as (name, preset, overrides)."""
    name, _, spec = text.partition("=")
    if not name or not spec:
        raise SystemExit(f"candidate '{text}': expected NAME=PRESET or NAME=KEY=VALUE,...")
    if spec in all_presets():
        return name, spec, {}
    return name, base, parse_overrides(re.split(r",(?![^\[]*\])", spec))


def cost(preset: str, overrides: dict[str, Any], args: argparse.Namespace) -> float:
    """CPU ms per step (``--per-step``) or a run's CPU seconds (``--steps``)."""
    run = experiment(preset, overrides, 0.5, 0, args.data_dir, steps=args.steps)
    if args.steps:
        result, timing = train_run(run)
        print(f"  wall {timing.wall_s:.1f} s (loop {result.wall_s:.1f} s), "
              f"CPU {timing.cpu_s:.1f} s", flush=True)
        return timing.cpu_s
    from pitot_tf.training.trainer import Trainer

    rounds = cpu_ms_per_step(Trainer(run.config, run.dataset, run.split), args.per_step)
    return sorted(rounds)[len(rounds) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("candidates", nargs="+", metavar="NAME=SPEC")
    parser.add_argument("--base", default="pitot/tuned")
    add_data_options(parser, steps=False, overrides=False,
                     data_help="dataset folder (default: $PITOT_DATA, else the packaged one)")
    parser.add_argument("--per-step", type=int, default=100, metavar="N")
    parser.add_argument("--steps", type=int, default=None, metavar="N",
                        help="time whole N-step runs instead of steps")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    entries = [(BASE, args.base, {})] + [candidate(c, args.base) for c in args.candidates]
    ratios: dict[str, list[float]] = {name: [] for name, _, _ in entries[1:]}
    unit = "CPU s a run" if args.steps else "CPU ms a step"
    for round_ in range(args.rounds):
        base_cost = 0.0
        for name, preset, overrides in entries:
            print(f"round {round_}: {name} (load {load_average()[0]:.1f})", flush=True)
            value = cost(preset, overrides, args)
            if name == BASE:
                base_cost = value
                print(f"round {round_}: {name} {value:.1f} {unit}", flush=True)
                continue
            ratios[name].append(round(value / base_cost, 2))
            print(f"round {round_}: {name} {value:.1f} {unit}, {value / base_cost:.2f}x base",
                  flush=True)
    emit(ratios)


if __name__ == "__main__":
    main()
