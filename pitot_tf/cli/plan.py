"""``pitot-tf plan``: which rows of a workload to measure next, from a logged ``pyfunc-model``."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import ModelUri
from pitot_tf.cli.predict import Alpha, AsJson, Counts, Features, _read_counts, _read_features
from pitot_tf.errors import PlanningError

Budget = Annotated[int, typer.Option(help="How many rows to propose.")]
StrategyName = Annotated[str, typer.Option(
    "--strategy", help="random, bound (widest conformal bound), disagreement (ensemble "
                       "members' spread), doptimal (D-optimal on the embedding), variance "
                       "(least predictive variance left), cost or cost-variance (the "
                       "D-optimal or variance gain per predicted second).")]
Measured = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(show_default=False,
                 help="JSON or CSV file of rows already measured (platform, co_runners, "
                      "runtime_s): folded into the model (runs alone) and never proposed "
                      "again (default: none).")]
CoRunnerSets = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option("--co-runners", show_default=False,
                 help="A co-runner set to consider beside every platform, names separated by "
                      "commas; repeatable (default: every platform alone only).")]
Seed = Annotated[int, typer.Option(help="Seed of random choices and ties.")]


def _sets(values: list[str] | None, workloads: dict[str, int]) -> list[list[int]]:
    """Each ``--co-runners`` value as workload indices; one line for an unknown name."""
    sets = []
    for value in values or []:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in workloads]
        if unknown:
            raise PlanningError(f"--co-runners: unknown workload {unknown[0]!r}")
        sets.append([workloads[name] for name in names])
    return sets


def _workload(pyfunc: Any, name: str, features: str, counts: str) -> Any:
    """The workload's feature vector (cold start) or None for a known workload; one line
    for an unknown workload without features."""
    import pandas as pd

    if not features and not counts:
        if name not in pyfunc.names.workloads:
            raise PlanningError(f"unknown workload {name!r}: give --workload-features or "
                                f"--opcode-counts to plan for a new one")
        return None
    platform = next(iter(pyfunc.names.platforms))
    request = pyfunc.names.parse(pd.DataFrame({
        "workload": [name], "platform": [platform],
        "workload_features": [features or None], "opcode_counts": [counts or None]}))
    return request.features[0]


@app.command("plan")
def plan(
    model_uri: ModelUri,
    workload: Annotated[str, typer.Option(help="Workload name (known, or new with features).")],
    budget: Budget = 3, strategy: StrategyName = "variance", measured: Measured = None,
    co_runners: CoRunnerSets = None, alpha: Alpha = 0.05, as_json: AsJson = False,
    workload_features: Features = None, opcode_counts: Counts = None, seed: Seed = 0,
) -> None:
    """Propose the next BUDGET measurements (platform, co-runners) of WORKLOAD, with their
    predicted runtime, conformal bound and the strategy's expected gain.

    A new workload is given by --workload-features or --opcode-counts, as for predict."""
    if workload_features is not None and opcode_counts is not None:
        raise PlanningError("give --workload-features or --opcode-counts, not both")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow.pyfunc

    from pitot_tf.planning.fold import fold_measured
    from pitot_tf.planning.measured import read_measured
    from pitot_tf.planning.plan import propose
    from pitot_tf.planning.rows import candidates, empty
    from pitot_tf.planning.served import planning_model
    from pitot_tf.planning.strategies import strategy as named

    gain_unit = named(strategy).gain  # an unknown strategy fails before the model loads
    pyfunc = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    names = pyfunc.names
    features = _workload(pyfunc, workload, _read_features(workload_features),
                         _read_counts(opcode_counts))
    model, index = planning_model(pyfunc, alpha, features)
    if features is None:
        index = names.workloads[workload]
    done = empty(names.width)
    if measured is not None:
        runs = read_measured(measured, names)
        model, done = fold_measured(model, index, runs), runs.rows
    rows = candidates(len(names.platforms), names.width, _sets(co_runners, names.workloads))
    proposals = propose(model, index, rows, done, strategy, budget, seed)
    _show(proposals, pyfunc, workload, strategy, gain_unit, as_json)


def _show(proposals: list[Any], pyfunc: Any, workload: str, strategy: str, gain_unit: str,
          as_json: bool) -> None:
    from pitot_tf.data.units import format_seconds

    platforms = list(pyfunc.names.platforms)
    workloads = list(pyfunc.names.workloads)
    records = [{"platform": platforms[p.platform],
                "co_runners": [workloads[i] for i in p.co_runners],
                "predicted_runtime_s": p.predicted_s, "upper_bound_s": p.bound_s,
                "gain": None if math.isnan(p.gain) else p.gain} for p in proposals]
    if as_json:
        typer.echo(json.dumps({"workload": workload, "strategy": strategy,
                               "gain_unit": gain_unit, "proposals": records}))
        return
    typer.echo(f"next {len(records)} measurement(s) of {workload} by {strategy} "
               f"(gain: {gain_unit}):")
    typer.echo(f"{'#':>3}  {'platform':<32} {'co-runners':<24} {'predicted':>10} "
               f"{'bound':>10} {'gain':>9}")
    for i, r in enumerate(records, 1):
        gain = "-" if r["gain"] is None else f"{r['gain']:.3g}"
        typer.echo(f"{i:>3}  {r['platform']:<32} {', '.join(r['co_runners']) or '-':<24} "
                   f"{format_seconds(r['predicted_runtime_s']):>10} "
                   f"{format_seconds(r['upper_bound_s']):>10} {gain:>9}")
