"""``pitot-tf plan``: which rows of a workload (or platform) to measure next, from a logged
``pyfunc-model``."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import ModelUri
from pitot_tf.cli.predict import (
    Alpha,
    AsJson,
    Counts,
    Features,
    PlatformFeatures,
    _read_counts,
    _read_features,
)
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
                      "runtime_s; for --platform: workload, co_runners, runtime_s): folded "
                      "into the model (runs alone) and never proposed again (default: none).")]
CoRunnerSets = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option("--co-runners", show_default=False,
                 help="A co-runner set to consider beside every platform (--platform: every "
                      "workload), names separated by commas; repeatable (default: alone only).")]
Seed = Annotated[int, typer.Option(help="Seed of random choices and ties.")]
CostExponent = Annotated[float, typer.Option(
    help="cost and cost-variance divide their gain by predicted seconds to this power, "
         "between 0 and 1: 1 buys information per device-second; below 1 slow rows that "
         "teach much are penalised less (0.35 did best per device-second in "
         "benchmarks/active.py).")]


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


#: Per axis, the options that give a new entity's features (for the error naming them).
FEATURE_OPTIONS = {"workload": "--workload-features or --opcode-counts",
                   "platform": "--platform-features"}


def _new_features(pyfunc: Any, axis: str, name: str, given: dict[str, str]) -> Any:
    """The feature vector of a new workload or platform (request ``field: text``, as read
    from its options, empty when not given), or None for a known one; one line for an
    unknown one without features."""
    import pandas as pd

    names = pyfunc.names
    if not any(given.values()):
        if name not in (names.workloads if axis == "workload" else names.platforms):
            raise PlanningError(f"unknown {axis} {name!r}: give {FEATURE_OPTIONS[axis]} to "
                                f"plan for a new one")
        return None
    other = "platform" if axis == "workload" else "workload"
    first = next(iter(names.platforms if axis == "workload" else names.workloads))
    request = names.parse(pd.DataFrame({axis: [name], other: [first],
                                        **{k: [v or None] for k, v in given.items()}}))
    return request.features[0] if axis == "workload" else request.platform_features[0]


WorkloadName = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(show_default=False,
                 help="Workload to plan for (known, or new with features); this or "
                      "--platform (default: none).")]
PlatformName = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(show_default=False,
                 help="Platform to plan for instead (known, or new with "
                      "--platform-features): which workloads to run on it (default: none).")]


@app.command("plan")
def plan(
    model_uri: ModelUri, workload: WorkloadName = None, platform: PlatformName = None,
    budget: Budget = 3, strategy: StrategyName = "variance", measured: Measured = None,
    co_runners: CoRunnerSets = None, alpha: Alpha = 0.05, as_json: AsJson = False,
    workload_features: Features = None, opcode_counts: Counts = None,
    platform_features: PlatformFeatures = None, seed: Seed = 0,
    cost_exponent: CostExponent = 1.0,
) -> None:
    """Propose the next BUDGET measurements of WORKLOAD (platform, co-runners) or of PLATFORM
    (workload, co-runners), with their predicted runtime, conformal bound and the
    strategy's expected gain.

    A new workload is given by --workload-features or --opcode-counts, a new platform by
    --platform-features, as for predict."""
    if (workload is None) == (platform is None):
        raise PlanningError("give --workload or --platform (one of them)")
    if workload_features is not None and opcode_counts is not None:
        raise PlanningError("give --workload-features or --opcode-counts, not both")
    if platform is not None and (workload_features is not None or opcode_counts is not None):
        raise PlanningError("--workload-features and --opcode-counts describe a new workload; "
                            "--platform plans for a platform")
    if workload is not None and platform_features is not None:
        raise PlanningError("--platform-features describes a new platform; --workload plans "
                            "for a workload")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow.pyfunc

    from pitot_tf.models.fold_in import Entity
    from pitot_tf.planning.plan import check_cost_exponent
    from pitot_tf.planning.strategies import strategy as named

    gain_unit = named(strategy).gain_unit(cost_exponent)  # an unknown strategy fails first
    check_cost_exponent(cost_exponent)
    pyfunc = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    if platform is not None:
        features = _new_features(pyfunc, "platform", platform,
                                 {"platform_features": _read_features(platform_features)})
        entity = Entity("platform", pyfunc.names.platforms.get(platform, -1))
    else:
        assert workload is not None
        features = _new_features(pyfunc, "workload", workload, {
            "workload_features": _read_features(workload_features),
            "opcode_counts": _read_counts(opcode_counts)})
        entity = Entity("workload", pyfunc.names.workloads.get(workload, -1))
    proposals = _propose(pyfunc, entity, features, budget, strategy, measured, co_runners,
                         alpha, seed, cost_exponent)
    _show(proposals, pyfunc, entity, platform or workload or "", strategy, gain_unit, as_json)


def _propose(pyfunc: Any, entity: Any, features: Any, budget: int, strategy: str,
             measured: Path | None, co_runners: list[str] | None, alpha: float, seed: int,
             cost_exponent: float) -> list[Any]:
    """The plan for ``entity`` (its index -1 for a new one given by ``features``)."""
    import numpy as np

    from pitot_tf.models.fold_in import Entity
    from pitot_tf.planning.fold import fold_measured
    from pitot_tf.planning.measured import read_measured
    from pitot_tf.planning.plan import propose
    from pitot_tf.planning.rows import candidates, empty
    from pitot_tf.planning.served import planning_model

    names = pyfunc.names
    runs = read_measured(measured, names, entity.axis) if measured is not None else None
    alone = 0 if runs is None else int(np.sum(runs.rows.degree() == 1))
    model, index = planning_model(pyfunc, alpha, features, measured_runs=alone,
                                  axis=entity.axis)
    if features is not None:
        entity = Entity(entity.axis, index)
    done = empty(names.width)
    if runs is not None:
        model, done = fold_measured(model, entity, runs), runs.rows
    others = len(names.platforms) if entity.axis == "workload" else len(names.workloads)
    rows = candidates(others, names.width, _sets(co_runners, names.workloads))
    return propose(model, entity, rows, done, strategy, budget, seed, cost_exponent)


def _show(proposals: list[Any], pyfunc: Any, entity: Any, name: str, strategy: str,
          gain_unit: str, as_json: bool) -> None:
    """The proposals as a table, or one JSON object: ``{"workload": name, ...}`` with rows
    naming their ``platform`` (or ``{"platform": name, ...}`` with rows naming their
    ``workload``)."""
    from pitot_tf.data.units import format_seconds

    other = "platform" if entity.axis == "workload" else "workload"
    others = list(getattr(pyfunc.names, f"{other}s"))
    workloads = list(pyfunc.names.workloads)
    records = [{other: others[p.other],
                "co_runners": [workloads[i] for i in p.co_runners],
                "predicted_runtime_s": p.predicted_s, "upper_bound_s": p.bound_s,
                "gain": None if math.isnan(p.gain) else p.gain} for p in proposals]
    if as_json:
        typer.echo(json.dumps({entity.axis: name, "strategy": strategy,
                               "gain_unit": gain_unit, "proposals": records}))
        return
    typer.echo(f"next {len(records)} measurement(s) of {name} by {strategy} "
               f"(gain: {gain_unit}):")
    typer.echo(f"{'#':>3}  {other:<32} {'co-runners':<24} {'predicted':>10} "
               f"{'bound':>10} {'gain':>9}")
    for i, r in enumerate(records, 1):
        gain = "-" if r["gain"] is None else f"{r['gain']:.3g}"
        typer.echo(f"{i:>3}  {r[other]:<32} {', '.join(r['co_runners']) or '-':<24} "
                   f"{format_seconds(r['predicted_runtime_s']):>10} "
                   f"{format_seconds(r['upper_bound_s']):>10} {gain:>9}")
