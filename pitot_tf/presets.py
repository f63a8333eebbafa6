"""Named presets: small overrides of the default :class:`~pitot_tf.config.Config`.

Names follow the reference implementation (``embedding/64``, ``components/nobaseline``,
``baseline/monolith`` ...) so that results line up with the paper's. Presets exported by a
search (``pitot-tf search export``) are YAML files in ``studies/presets/``; they resolve the
same way.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any

import yaml

from pitot_tf.config import Config, with_overrides
from pitot_tf.errors import ConfigError

QUANTILES_NAIVE = [0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99]
QUANTILES_OPTIMAL = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99]
IGNORE_INTERFERENCE = {"model.interference": "ignore"}
#: The reference's no-interference model (``_NOINTERFERENCE``) uses 4 learned features.
NO_INTERFERENCE = {**IGNORE_INTERFERENCE, "model.learned_features": 4}
#: ``pitot/cold``'s share of entities treated as never measured per step (docs/benchmarks.md).
COLD_DROPOUT = 0.25
#: ``pitot/cold``'s members: one member's cold-workload MAPE is 1 point behind the trees' on
#: 2-way rows, three are ahead on every objective and draw (docs/benchmarks.md, "Cold start").
COLD_MEMBERS = 3
#: The best trial of the shipped ``pitot`` study (studies/pitot.yaml: level 0.5, replicate 0,
#: validation loss only; TPE with median pruning), its values as the study recorded them.
TUNED = {
    "model.mf_dim": 65, "model.if_dim": 1, "model.if_slope": 0.23331446429628014,
    "model.learned_features": 7, "model.layers": [253, 253],
    "objectives.interference_weight": 0.9177439890158751, "training.batch": 1024,
    "training.learning_rate": 0.000699076440042602,
    "training.weight_decay": 5.2614544284195e-06,
}
#: The best trial of the ``pitot-small`` study (studies/pitot-small.yaml: the same space at
#: level 0.1, replicate 0): with a tenth of the matrix it prefers a wider interaction term,
#: more learned features, a deeper tower and half the steps at about five times the
#: learning rate of ``pitot``.
TUNED_SMALL = {
    "model.mf_dim": 75, "model.if_dim": 5, "model.if_slope": 0.37431245037927097,
    "model.learned_features": 6, "model.layers": [134, 134, 134],
    "objectives.interference_weight": 0.5587850535868849, "training.batch": 256,
    "training.steps": 10000, "training.learning_rate": 0.004853968278148925,
    "training.weight_decay": 1.5137373519378525e-06,
}
#: ``pitot/fast``: ``pitot/tuned`` for 800 steps at a learning rate of 0.03, warmed up over
#: the first 250 steps and decayed linearly to 0 over the last 400. Without the warm-up, rates
#: above about 10^-3 trained worse; with it, the higher the rate (up to 0.03), the fewer steps
#: to the reference's test MAPE at level 0.5 (5.8% on the matrix, 7.6% on 2-way): 5,000 steps
#: at 7·10^-4 and no schedule, 800 here (docs/benchmarks.md, "Time to accuracy").
FAST = {"training.steps": 800, "training.learning_rate": 0.03, "training.warmup": 250,
        "training.decay_steps": 400}
#: ``pitot/lean``'s quantile heads: the median (the point prediction) and the upper quantiles
#: CQR picks from at α = 0.05. Two members with these four heads cost about 2.2-2.6x one
#: ``pitot/tuned`` step; with ``conformal/optimal``'s eight heads two members cost 5.7-6.7x
#: (docs/benchmarks.md, "pitot/lean").
QUANTILES_LEAN = [0.5, 0.9, 0.95, 0.98]
#: ``pitot/lean``'s members and weight averaging (an exponential moving average of the weights,
#: momentum 0.999: about the last thousand steps), 2.75-2.84x one ``pitot/tuned`` step; the
#: averaging took 0.15 point off both MAPEs on replicate 0.
LEAN_MEMBERS, LEAN_EMA = 2, 0.999
#: Where a built-in preset's values came from, for ``pitot-tf presets`` (exported presets carry
#: their own ``source``).
SOURCES = {
    "pitot/tuned": "study pitot (studies/pitot.yaml), trial 22: the best of 45 (18 complete, "
                   "25 pruned) at commit 34356fe; validation loss 0.00900 against 0.01098 for "
                   "`pitot` (docs/benchmarks.md, \"Hyperparameter search\")",
    "pitot/tuned-small": "study pitot-small (studies/pitot-small.yaml, level 0.1), trial 54: "
                         "the best of 61 (23 complete, 37 pruned, 1 failed) at commit 39d6a7c; "
                         "validation loss 0.02058 against 0.03480 for `pitot` (docs/benchmarks.md,"
                         " \"Hyperparameter search\")",
    "pitot/fast": "pitot/tuned (study pitot, trial 22) for 800 steps at learning rate 0.03 "
                  "with a warm-up and a linear decay (docs/benchmarks.md, \"Time to accuracy\")",
    "pitot/best": "pitot/tuned (study pitot, trial 22) with five members and conformal/optimal's"
                  " quantile heads (docs/benchmarks.md, \"pitot/best\")",
    "pitot/lean": "pitot/tuned (study pitot, trial 22) with two members, four quantile heads "
                  "and weight averaging: the best of the candidates screened at about 3x one "
                  "pitot/tuned run (docs/benchmarks.md, \"pitot/lean\")",
    "pitot/best-small": "pitot/tuned-small (study pitot-small, trial 54) with five members and "
                        "conformal/optimal's quantile heads (docs/benchmarks.md, \"pitot/best\")",
}


def _builtin() -> dict[str, dict[str, Any]]:
    presets: dict[str, dict[str, Any]] = {"pitot": {}}
    for dim in (4, 8, 16, 64, 128):
        presets[f"embedding/{dim}"] = {"model.mf_dim": dim}
    for n in (0, 1, 2, 8, 16):
        presets[f"learned/{n}"] = {"model.learned_features": n}
    for k in (1, 4, 8, 16):
        presets[f"interference/{k}"] = {"model.if_dim": k}
    for w in (0.1, 0.2, 1.0, 2.0):
        presets[f"weight/{w}"] = {"objectives.interference_weight": w}
    presets.update(
        {
            "features/noworkload": {"model.workload_tower": "embedding"},
            "features/noplatform": {"model.platform_tower": "embedding"},
            "features/blackbox": {
                "model.workload_tower": "embedding",
                "model.platform_tower": "embedding",
            },
            "components/nobaseline": {"model.baseline": False},
            "components/discard": {**NO_INTERFERENCE, "objectives.interference_weight": 0.0},
            "components/ignore": dict(NO_INTERFERENCE),
            "components/notrectified": {"model.if_slope": 1.0},
            "conformal/naive": {"model.quantiles": QUANTILES_NAIVE},
            "conformal/optimal": {"model.quantiles": QUANTILES_OPTIMAL},
            # The reference's baselines: factorization trains on the matrix rows only;
            # its Monolith and Attention have no linear-scaling baseline and no intercept.
            "baseline/factorization": {
                "model.workload_tower": "embedding",
                "model.platform_tower": "embedding",
                **IGNORE_INTERFERENCE,
                "objectives.interference_weight": 0.0,
            },
            "baseline/monolith": {"model.kind": "monolith", "model.baseline": False},
            "baseline/attention": {"model.kind": "attention", "model.baseline": False},
            # Five members of the default model, trained in one program (about 5x the cost).
            "pitot/ensemble": {"training.ensemble": 5},
            # The most accurate configuration measured so far (docs/benchmarks.md, "Ensembles"):
            # five members of pitot/tuned with conformal/optimal's quantile heads (CQR); about
            # 5x one run.
            "pitot/best": {**TUNED, "training.ensemble": 5, "model.quantiles": QUANTILES_OPTIMAL},
            # pitot/best's recipe at about a sixth of its cost a step (docs/benchmarks.md,
            # "pitot/lean"):
            # two pitot/tuned members, four CQR heads, weight averaging.
            "pitot/lean": {**TUNED, "training.ensemble": LEAN_MEMBERS,
                           "model.quantiles": QUANTILES_LEAN, "training.ema": LEAN_EMA},
            # The same for small data: five members of pitot/tuned-small with CQR heads.
            "pitot/best-small": {**TUNED_SMALL, "training.ensemble": 5,
                                 "model.quantiles": QUANTILES_OPTIMAL},
            "pitot/tuned": dict(TUNED),
            # The reference's accuracy soonest (docs/benchmarks.md, "Time to accuracy"):
            # pitot/tuned for 800 steps at a high learning rate, warmed up and decayed.
            "pitot/fast": {**TUNED, **FAST},
            # For small data (up to about a fifth of the matrix observed; worse than
            # pitot/tuned from a third on); see SOURCES.
            "pitot/tuned-small": dict(TUNED_SMALL),
            # Five members sharing their towers' hidden layers (about 2.7x one run's CPU).
            "pitot/shared": {"training.ensemble": 5, "training.ensemble_share": "towers"},
            # Trained for cold start: a share of platforms and workloads dropped each step,
            # whose baseline term (as a new one's) trees or a ridge regression predict; three
            # members (about 3x one run): better than gradient-boosted trees on new workloads.
            "pitot/cold": {"model.cold_dropout": COLD_DROPOUT, "model.cold_baseline": "select",
                           "training.ensemble": COLD_MEMBERS},
        }
    )
    return presets


BUILTIN_PRESETS = _builtin()


def user_preset_dir() -> Path:
    """Where exported presets live: ``$PITOT_PRESETS`` or ``studies/presets``."""
    return Path(os.environ.get("PITOT_PRESETS") or "studies/presets")


def _user_presets() -> dict[str, dict[str, Any]]:
    root = user_preset_dir()
    found: dict[str, dict[str, Any]] = {}
    if root.is_dir():
        for path in sorted(root.rglob("*.yaml")):
            name = path.relative_to(root).with_suffix("").as_posix()
            with open(path) as handle:
                content = yaml.safe_load(handle) or {}
            if not isinstance(content, dict) or not isinstance(content.get("overrides", {}), dict):
                raise ConfigError(
                    f"{path}: a preset file needs a mapping 'overrides: {{key: value}}'"
                )
            found[name] = dict(content.get("overrides", {}))
    return found


def preset_source(name: str) -> str | None:
    """Where preset ``name``'s values came from (a study and trial), if known."""
    if name in SOURCES:
        return SOURCES[name]
    path = user_preset_dir() / f"{name}.yaml"
    if not path.is_file():
        return None
    with open(path) as handle:
        source = (yaml.safe_load(handle) or {}).get("source")
    if not isinstance(source, dict) or "study" not in source:
        return None
    return f"study {source['study']}, trial {source.get('trial', '?')}"


def all_presets() -> dict[str, dict[str, Any]]:
    """Built-in presets plus those exported to :func:`user_preset_dir`."""
    return {**BUILTIN_PRESETS, **_user_presets()}


def preset_overrides(name: str) -> dict[str, Any]:
    presets = all_presets()
    if name not in presets:
        close = fnmatch.filter(presets, f"*{name.split('/')[-1]}*")
        hint = f" (did you mean {', '.join(close[:5])}?)" if close else ""
        raise ConfigError(f"unknown preset '{name}'{hint}; `pitot-tf presets` lists them")
    return presets[name]


def resolve(name: str = "pitot", overrides: dict[str, Any] | None = None) -> Config:
    """The config of a preset with further ``overrides`` applied, validated."""
    return with_overrides(Config(), {**preset_overrides(name), **(overrides or {})})


def expand(patterns: list[str]) -> list[str]:
    """Preset names matching any of the glob ``patterns`` (``baseline/*``), in order."""
    names = list(all_presets())
    chosen: list[str] = []
    for pattern in patterns:
        matched = fnmatch.filter(names, pattern) if any(c in pattern for c in "*?[") else [pattern]
        if not matched:
            raise ConfigError(f"no preset matches '{pattern}'")
        for name in matched:
            preset_overrides(name)
            if name not in chosen:
                chosen.append(name)
    return chosen


def family(name: str) -> str:
    """The preset family shown as a tag in MLflow: ``components/ignore`` → ``components``."""
    return name.split("/")[0]
