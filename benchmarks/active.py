"""Measurement planning, simulated: how fast each strategy's chosen measurements of a new
workload bring its MAPE down, per measurement and per device-second.

    python benchmarks/active.py [--data-dir DIR] [--mode cold-workload] [--draws 2]
        [--from-draw 0] [--steps N]
        [--strategies random variance cost-variance cost-variance@0.35 ...] [--rounds 40]
        [--seeds 3]
        [--tracking-uri URI] [--experiment active-planning] [--figure FILE] [--cache DIR]

Per cold-workload draw ``d`` (``make_cold_split(..., replicate=d)``, as ``cold_start.py`` and
``few_shot.py`` make them; models from ``few_shot_models.py``'s cache, trained when missing)
every held-out workload (test and calibration ones) is planned for in rounds
(:mod:`active_simulation`): one row proposed per round among the platforms it ran on alone,
its true runtime revealed and folded in (the fold-in's prior tuned on the calibration
workloads, as ``few_shot.py`` tunes it), MAPE measured on the rows not yet revealed. Each
strategy runs with ``--seeds`` seeds (random choices and ties; the strategies without either
run once). Bounds at α = 0.05 are
split-conformal, calibrated per strategy and number of measurements on the calibration
workloads' remaining rows. Device-seconds are the summed true runtimes of the revealed rows;
"at random's device-seconds" compares each workload after the last round a strategy could
afford with what random spent on the same workload and seed.

``--mode cold-platform`` does the same for held-out platforms (draws of
``make_cold_split(..., mode="cold-platform")``): each is planned for over the workloads it ran
alone, as ``pitot-tf plan --platform`` plans, and its fold-in prior tuned on the calibration
platforms.

A cost-aware strategy named ``NAME@B`` divides its gain by predicted seconds to the power
``B`` (``pitot-tf plan --cost-exponent B``; plain ``NAME``: 1).

Each (strategy, round) is an MLflow run in ``--experiment`` at ``--tracking-uri`` (default
``sqlite:///active-planning.db``, a file in the working folder): params strategy, round, k,
draws; metrics mape, coverage, width, device_seconds, mape_at_random_seconds. The figure
(``--figure``) plots MAPE against k and against device-seconds; the last line is the
summary as one JSON object.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from active_simulation import HeldOut, Trace, bound_scores, held_out, mape_at_seconds, simulate
from common import ALPHA, add_data_options, emit, load_average, stopwatch
from few_shot_models import DEFAULT_CACHE, model_path, trained_model

STRATEGIES = ("random", "bound", "disagreement", "doptimal", "cost", "variance", "cost-variance")
#: Strategies that choose the same rows whatever the seed (no random choice, no ties in
#: practice): simulated once, their trace reused for every seed's comparison with random.
SEEDLESS = ("disagreement", "doptimal", "cost", "variance", "cost-variance")
#: Random's measurement count the targets refer to.
REFERENCE_K = 10
#: The measurement counts the table and the JSON summary show.
SHOWN = (0, 1, 2, 3, 5, 6, 10, 20)
Key = tuple[int, int, int]  # draw, workload (platform), seed
Traces = dict[str, dict[str, dict[Key, Trace]]]  # strategy -> part -> key -> trace


def parsed(label: str) -> tuple[str, float]:
    """A ``--strategies`` entry as (strategy, cost exponent): ``NAME`` or ``NAME@B``."""
    name, _, exponent = label.partition("@")
    if name not in STRATEGIES or (exponent and not name.startswith("cost")):
        raise SystemExit(f"--strategies: unknown strategy {label!r} (one of {STRATEGIES}; "
                         f"NAME@B for a cost-aware one at cost exponent B)")
    return name, float(exponent) if exponent else 1.0


def draw_traces(args: argparse.Namespace, dataset: Any, draw: int, traces: Traces) -> None:
    """Simulate every strategy on draw ``draw``'s held-out workloads into ``traces``."""
    from pitot_tf.data.cold import make_cold_split
    from pitot_tf.models.fold_in_tables import with_tuned_prior
    from pitot_tf.models.numpy_export import numpy_pitot

    axis = "workload" if args.mode == "cold-workload" else "platform"
    split = make_cold_split(dataset, 1.0, draw, mode=args.mode, holdout=args.holdout)
    path = model_path(args.cache, args.preset, args.mode, draw, args.steps)
    tables = numpy_pitot(trained_model(path, args.preset, dataset, split, args.steps))
    assert tables is not None, f"{args.preset} is not a Pitot model"
    seconds_per_unit = float(dataset.seconds(np.ones(1))[0])
    obs = dataset.objectives["mf"]
    val = split.rows("mf", "val")  # the fold-in's prior tuned as few_shot.py tunes it
    entity, other = (obs.workload, obs.platform) if axis == "workload" else (obs.platform,
                                                                              obs.workload)
    tables = with_tuned_prior(tables, axis, entity[val], other[val], obs.log_runtime[val])
    parts: dict[str, list[HeldOut]] = {part: held_out(obs, split.rows("mf", part), axis)
                                       for part in ("val", "test")}
    for strategy in args.strategies:
        name, exponent = parsed(strategy)
        with stopwatch() as timing:
            for part, entities in parts.items():
                store = traces.setdefault(strategy, {}).setdefault(part, {})
                for entity in entities:
                    for seed in range(args.seeds):
                        key = entity.entity.index
                        store[(draw, key, seed)] = (
                            store[(draw, key, 0)] if seed and name in SEEDLESS
                            else simulate(tables, entity, name, args.rounds, 1, seed,
                                          seconds_per_unit, exponent))
        print(f"draw {draw} {strategy}: {sum(map(len, parts.values()))} {axis}s x "
              f"{args.seeds} seeds in {timing.wall_s:.0f} s", flush=True)


def at_round(trace: Trace, r: int) -> int:
    return min(r, len(trace.k) - 1)


def round_metrics(traces: Traces, strategy: str, r: int) -> dict[str, float]:
    """MAPE, coverage, width, device-seconds and MAPE at random's device-seconds after
    round ``r`` (means over the test workloads and seeds)."""
    test = traces[strategy]["test"]
    random = traces["random"]["test"] if "random" in traces else None
    coverage, width = bound_scores(list(traces[strategy]["val"].values()),
                                   list(test.values()), r, ALPHA)
    metrics = {
        "mape": float(np.mean([t.mape(at_round(t, r)) for t in test.values()])),
        "coverage": coverage, "width": width,
        "device_seconds": float(np.mean([t.seconds[at_round(t, r)] for t in test.values()])),
    }
    if random is not None:
        metrics["mape_at_random_seconds"] = float(np.mean([
            mape_at_seconds(t, random[key].seconds[at_round(random[key], r)])
            for key, t in test.items()]))
    return metrics


def log_rounds(args: argparse.Namespace, summary: dict[str, dict[int, dict[str, float]]]
               ) -> None:
    """One MLflow run per (strategy, round) in ``args.experiment``."""
    import mlflow

    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_experiment(args.experiment)
    draws = f"{args.from_draw}-{args.draws - 1}"
    for strategy, rounds in summary.items():
        for r, metrics in rounds.items():
            with mlflow.start_run(run_name=f"{strategy} k={r}"):
                mlflow.log_params({"strategy": strategy, "round": r, "k": r, "draws": draws,
                                   "mode": args.mode,
                                   "preset": args.preset, "seeds": args.seeds,
                                   "cost_exponent": parsed(strategy)[1]})
                mlflow.log_metrics(metrics)


def first_k(rounds: dict[int, dict[str, float]], target: float) -> int | None:
    """The fewest measurements whose MAPE is at most ``target``."""
    return next((r for r, m in sorted(rounds.items()) if m["mape"] <= target), None)


def seconds_curve(traces: Traces, strategy: str, fractions: np.ndarray) -> np.ndarray:
    """Mean MAPE against device-seconds, as fractions of what random spent on the same
    workload and seed for :data:`REFERENCE_K` measurements."""
    random, test = traces["random"]["test"], traces[strategy]["test"]
    spend = {key: t.seconds[at_round(t, REFERENCE_K)] for key, t in random.items()}
    return np.array([np.mean([mape_at_seconds(t, f * spend[key]) for key, t in test.items()])
                     for f in fractions])


def plot(traces: Traces, summary: dict[str, dict[int, dict[str, float]]], path: Path,
         title: str) -> None:
    """MAPE against measurements (left) and against device-seconds (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fractions = np.linspace(0.0, 1.0, 41)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for strategy, rounds in summary.items():
        ks = sorted(rounds)
        left.plot(ks, [100 * rounds[k]["mape"] for k in ks], marker="o", ms=3, label=strategy)
        if "random" in traces:
            right.plot(100 * fractions, 100 * seconds_curve(traces, strategy, fractions),
                       label=strategy)
    left.set(xlabel="measurements of the new entity (k)", ylabel="MAPE on the rest (%)")
    right.set(xlabel=f"device-seconds spent (% of random's {REFERENCE_K} measurements)",
              ylabel="MAPE on the rest (%)")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"figure: {path}")


def print_table(summary: dict[str, dict[int, dict[str, float]]], reach: dict[str, int | None],
                shown: tuple[int, ...] = (0, 1, 3, 5, 6, 10, 20)) -> None:
    fmt: Callable[[float], str] = "{:.1%}".format
    print("| strategy | " + " | ".join(f"MAPE k={k}" for k in shown)
          + f" | k to reach random's k={REFERENCE_K} | MAPE at random's k={REFERENCE_K} "
          f"device-seconds | coverage / width k=3 | coverage / width k={REFERENCE_K} |")
    print("|---" * (len(shown) + 5) + "|")
    for strategy, rounds in summary.items():
        cells = [fmt(rounds[k]["mape"]) if k in rounds else "-" for k in shown]
        at = rounds.get(REFERENCE_K, {}).get("mape_at_random_seconds")
        bounds = [f"{fmt(rounds[k]['coverage'])} / {fmt(rounds[k]['width'])}"
                  if k in rounds else "-" for k in (3, REFERENCE_K)]
        print(f"| {strategy} | " + " | ".join(cells) + f" | {reach[strategy]} | "
              + (fmt(at) if at is not None else "-") + " | " + " | ".join(bounds) + " |")


def main() -> None:
    from pitot_tf.data.dataset import load_dataset

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_options(parser, overrides=False)
    parser.add_argument("--mode", choices=("cold-workload", "cold-platform"),
                        default="cold-workload",
                        help="plan for held-out workloads (over platforms) or held-out "
                             "platforms (over workloads)")
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--from-draw", type=int, default=0)
    parser.add_argument("--preset", default="pitot/cold")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES),
                        help=f"of {', '.join(STRATEGIES)}; NAME@B: a cost-aware one at cost "
                             "exponent B")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--tracking-uri", default="sqlite:///active-planning.db",
                        help="MLflow tracking store (default: a SQLite file in the working "
                             "folder)")
    parser.add_argument("--experiment", default="active-planning")
    parser.add_argument("--figure", type=Path, default=Path("docs/figures/active_planning.png"))
    args = parser.parse_args()
    for label in args.strategies:
        parsed(label)
    dataset = load_dataset(args.data_dir)
    traces: Traces = {}
    for draw in range(args.from_draw, args.draws):
        draw_traces(args, dataset, draw, traces)
    rounds = range(args.rounds + 1)
    summary = {s: {r: round_metrics(traces, s, r) for r in rounds} for s in args.strategies}
    target = summary.get("random", {}).get(REFERENCE_K, {}).get("mape", float("nan"))
    reach = {s: first_k(summary[s], target) for s in summary}
    print_table(summary, reach)
    plot(traces, summary, args.figure,
         f"planning on held-out {args.mode.removeprefix('cold-')}s, {args.mode} draws "
         f"{args.from_draw}-"
         f"{args.draws - 1}, {args.preset}")
    log_rounds(args, summary)
    emit({"mode": args.mode, "draws": args.draws, "from_draw": args.from_draw,
          "preset": args.preset,
          "seeds": args.seeds, "load_average": load_average(), "random_k10_mape": target,
          "k_to_reach_random_k10": reach,
          "strategies": {s: {str(r): {name: round(value, 5) for name, value in rs[r].items()}
                             for r in SHOWN if r in rs} for s, rs in summary.items()}})


if __name__ == "__main__":
    main()
