"""One typed configuration for a run, with strict ``key=value`` overrides.

A run is described by four sections: ``objectives`` (what to fit and how much each counts),
``model`` (which network and its sizes), ``training`` (optimizer and schedule) and ``seed``.
Defaults are the paper's. Presets (:mod:`pitot_tf.presets`) are small named overrides on top.
Every override is checked: an unknown key or a value of the wrong type or range is a
:class:`ConfigError` that lists what is valid.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml

from pitot_tf.errors import ConfigError
from pitot_tf.redaction import has_secret

TOWER_KINDS = ("hybrid", "embedding")
INTERFERENCE_MODES = ("model", "ignore")
INTERFERENCE_FORMS = ("paper", "reference")
#: Where Pitot's towers run in a training step (:mod:`pitot_tf.models.pitot`).
TOWER_ROWS = ("auto", "all", "batch")
BASELINE_FITS = ("train", "train+val")
#: How a platform or workload never measured gets its baseline term from its side features
#: (``model.cold_baseline``): a ridge regression, extremely randomized trees, or per axis the
#: one of the two with the lower cross-validated error (:mod:`pitot_tf.models.cold_baseline`).
COLD_BASELINES = ("ridge", "trees", "select")
#: Seeds are below 2**24: the trainer derives per-run seeds from them and TensorFlow's
#: stateless samplers take 32-bit seeds.
SEED_LIMIT = 2**24
#: Keys of older versions, accepted (and dropped) only when reading a logged config.
#: ``objectives.log_target`` was never read: training was always in the log domain.
REMOVED_KEYS = frozenset({"objectives.log_target"})
LOSSES = ("squared", "percent")
OPTIMIZERS = ("adamax", "adamw", "adam")
ENSEMBLE_SHARES = ("none", "towers")


#: The ``dataclasses.field`` metadata key holding what a config key means
#: (:mod:`pitot_tf.config_reference` turns it into docs/config.md).
HELP = "help"


def _one_of(choices: tuple[str, ...]) -> str:
    return "One of " + ", ".join(f"`{choice}`" for choice in choices)


def setting(default: Any, meaning: str) -> Any:
    """A config field with its default and what it means, declared in one place; a list
    default is copied for every instance."""
    if isinstance(default, list):
        items = list(default)
        return field(default_factory=lambda: list(items), metadata={HELP: meaning})
    return field(default=default, metadata={HELP: meaning})


@dataclass
class ObjectivesConfig:
    """Which observation tables to fit and how much each counts in the loss.

    ``interference_weight`` is the total weight of all interference objectives, shared
    equally among the K-way objectives present (the paper's default is 0.5). The loss is
    the weighted sum (not divided by the total weight); docs/benchmarks.md maps this onto
    the reference's weights.
    """

    include: list[str] = setting(
        [], "Objectives to load and fit (`mf`, `if2`, ...); empty: every one the dataset has.")
    matrix_weight: float = setting(1.0, "Loss weight of the matrix objective `mf` (alone).")
    interference_weight: float = setting(
        0.5, "Total loss weight of the interference objectives, shared equally among the "
        "K-way objectives present (the paper's 0.5).")


@dataclass
class ModelConfig:
    """The network: Pitot (two towers and an interference term) or a baseline.

    ``interference_form``: ``paper`` (pressure from the co-runners' embeddings and the
    platform) or ``reference`` (the reference code's maths, see :mod:`pitot_tf.models.pitot`).
    ``baseline``: add the linear-scaling baseline (false: no baseline and no intercept).
    ``baseline_trainable``: train it with the rest of the model from its least-squares fit,
    as the reference does (only with ``baseline``; default since it measured better, see
    docs/benchmarks.md; false keeps the fit frozen). ``baseline_fit``: which matrix rows the
    least-squares fit uses, ``train`` (default: validation rows stay unseen for conformal
    calibration) or
    ``train+val`` (the reference's). ``cold_dropout`` (Pitot only): the share of platforms
    and of workloads treated as never measured at each training step (free features zeroed,
    baseline term from features; :mod:`pitot_tf.models.cold_dropout`), so that the model
    predicts entities it has never seen from their features; 0 (the paper's) turns it off.
    ``cold_baseline``: what gives a platform or workload never measured its baseline term
    from its side features: ``ridge`` (a ridge regression, penalty by leave-one-out error),
    ``trees`` (extremely randomized trees: closer on the sparse opcode counts of workloads,
    docs/benchmarks.md "Cold start") or ``select`` (per axis, the one of the two with the
    lower cross-validated error; :mod:`pitot_tf.models.cold_baseline`).
    """

    kind: str = setting(
        "pitot", "The network: `pitot` (two towers and an interference term), or the "
        "baselines `monolith` (one MLP on both axes' features) and `attention` (the "
        "reference's attention baseline).")
    mf_dim: int = setting(32, "Embedding size of workloads and platforms (per output head).")
    if_dim: int = setting(2, "Number of interference types k: susceptibility/pressure pairs "
                             "per platform.")
    if_slope: float = setting(0.1, "Negative slope of the leaky ReLU that rectifies the "
                                   "interference pressure, in [0, 1].")
    interference: str = setting(
        "model", _one_of(INTERFERENCE_MODES) + ": `model` adds the interference "
        "term; `ignore` leaves it out (co-running rows are predicted as if alone).")
    interference_form: str = setting(
        "paper", _one_of(INTERFERENCE_FORMS) + ": `paper` (pressure from the "
        "co-runners' embeddings and the platform) or `reference` (the reference code's "
        "maths).")
    workload_tower: str = setting(
        "hybrid", _one_of(TOWER_KINDS) + ": `hybrid` (an MLP on side features plus "
        "learned free features) or `embedding` (a free table, no side information).")
    platform_tower: str = setting("hybrid", "As `model.workload_tower`, for platforms.")
    learned_features: int = setting(
        1, "Learned free features appended to each row's side features in a hybrid tower.")
    layers: list[int] = setting([128, 128], "Hidden layer widths of each Pitot tower.")
    tower_rows: str = setting(
        "auto", _one_of(TOWER_ROWS) + ": which rows the towers embed at each step: `all` "
        "(every platform and workload, then gather the batch's rows), `batch` (only the "
        "rows the batch names, co-runners included: a step's cost then does not grow with "
        "the number of platforms and workloads) or `auto` (`batch` when the batch names "
        "fewer rows than the two axes hold). The same predictions either way.")
    activation: str = setting("gelu", "Activation of every hidden layer (a Keras name).")
    baseline: bool = setting(
        True, "Add the linear-scaling baseline (false: no baseline and no intercept).")
    baseline_trainable: bool = setting(
        True, "Train the baseline with the rest of the model, starting from its "
        "least-squares fit (false: keep the fit frozen).")
    baseline_fit: str = setting(
        "train", _one_of(BASELINE_FITS) + ": the matrix rows of the baseline's "
        "least-squares fit (`train` keeps validation rows unseen for calibration; "
        "`train+val` is the reference's).")
    quantiles: list[float] = setting(
        [], "Quantiles in (0, 1), one output head each, trained with the pinball loss (for "
        "conformalized quantile regression); empty: one head, `model.loss`.")
    loss: str = setting(
        "squared", _one_of(LOSSES) + ": squared error of the log runtime (the "
        "paper's), or `percent`, |predicted / actual - 1|.")
    monolith_layers: list[int] = setting([256, 256], "Hidden layer widths of `monolith`.")
    attention_layers: list[int] = setting(
        [256, 256], "Hidden layer widths of the query and key/value MLPs of `attention`.")
    attention_dim: int = setting(8, "Query/key size of `attention`.")
    value_dim: int = setting(8, "Value size of `attention`.")
    output_layers: list[int] = setting([32], "Hidden layer widths of `attention`'s output "
                                             "MLP.")
    cold_dropout: float = setting(
        0.0, "Share of platforms and of workloads treated as never measured at each training "
        "step, in [0, 1), so that the model learns to predict them from their features "
        "(Pitot only; 0, the paper's, turns it off).")
    cold_baseline: str = setting(
        "ridge", _one_of(COLD_BASELINES) + ": what gives a platform or workload "
        "never measured its baseline term from its features: a ridge regression, extremely "
        "randomized trees, or per axis the one with the lower cross-validated error.")


@dataclass
class TrainingConfig:
    """Optimizer and schedule (the reference uses optax's adamaxw).

    ``ensemble``: train that many members (own seeds, own batch draws, same split) in one
    compiled program and predict the mean of their log runtimes
    (:mod:`pitot_tf.models.ensemble`); 1 is a single model. ``ensemble_share``: what the
    members share: ``none`` (independent members) or ``towers`` (Pitot with hybrid towers:
    one set of tower hidden layers and learned features, an output head per member, and
    a baseline per member; one batch per step for all), a cheaper ensemble.
    ``snapshots``: 0 trains with a constant learning rate; ``M >= 1`` with a cosine learning
    rate over ``M`` equal cycles (1: one cosine decay over the run, which keeps the run's best
    weights as usual, also for an ensemble); ``M >= 2`` predicts the mean of the last
    snapshots, one per cycle (a snapshot ensemble, :mod:`pitot_tf.training.snapshots`).
    ``snapshot_members``: how many of the last snapshots form that ensemble; 0 (default) lets
    the validation loss of their mean choose. ``ema``: weight averaging; with a momentum
    ``m > 0`` the optimizer keeps an exponential moving average of the trainable weights
    (updated every step), which validation scores and the run keeps, while training goes on
    from the raw weights.
    """

    steps: int = setting(20_000, "Gradient steps.")
    val_every: int = setting(
        200, "Steps between validation passes (the weights with the best validation loss "
        "are kept).")
    batch: int = setting(512, "Rows per objective in each gradient step.")
    optimizer: str = setting("adamax", _one_of(OPTIMIZERS) + " (Keras optimizers).")
    learning_rate: float = setting(
        1e-3, "Learning rate (the peak, with a warm-up, a decay or a cosine schedule).")
    warmup: int = setting(
        0, "Steps over which the learning rate rises linearly to `training.learning_rate` at "
        "the start (0: none); not with `training.snapshots`.")
    decay_steps: int = setting(
        0, "Last steps over which the learning rate falls linearly to almost 0 (0: none); not "
        "with `training.snapshots`.")
    beta_1: float = setting(0.9, "The optimizer's first-moment decay, in [0, 1).")
    beta_2: float = setting(0.999, "The optimizer's second-moment decay, in [0, 1).")
    weight_decay: float = setting(1e-4, "Decoupled weight decay (0: none).")
    jit_compile: bool = setting(True, "Compile the training step with XLA.")
    progress: bool = setting(True, "Show a progress bar while training.")
    ensemble: int = setting(
        1, "Members trained together (own seeds and batches, same split); the prediction is "
        "the mean of their log runtimes. 1: a single model.")
    ensemble_share: str = setting(
        "none", _one_of(ENSEMBLE_SHARES) + ": what ensemble members share; "
        "`towers` (Pitot with hybrid towers) shares the towers' hidden layers, a cheaper "
        "ensemble.")
    snapshots: int = setting(
        0, "0: constant learning rate; M >= 1: cosine learning rate over M equal cycles; "
        "M >= 2 also predicts the mean of the last snapshots, one per cycle.")
    snapshot_members: int = setting(
        0, "How many of the last snapshots form the snapshot ensemble (0: the validation "
        "loss of their mean chooses).")
    block_platforms: int = setting(
        0, "Entity-blocked batches (Pitot only): each step draws a block of at most this many "
        "platforms and `block_workloads` workloads, and its batch among the block's training "
        "rows, so that the towers run on the block's entities alone (a step's cost no longer "
        "grows with the axes). 0: the whole axis (no blocking on it).")
    block_workloads: int = setting(
        0, "Entity-blocked batches: at most this many workloads in a step's block (co-runners "
        "are embedded per slot, as with `model.tower_rows=batch`). 0: the whole axis.")
    ema: float = setting(
        0.0, "Weight averaging: 0 off; a momentum in (0, 1) validates and keeps an exponential "
        "moving average of the weights (updated every step) instead of the raw weights.")
    init_from: str = setting(
        "", "Start from a trained model's weights (a .keras file or runs:/<id>/model) of the "
        "same preset and dataset, less entities appended since (their rows start fresh): to "
        "refit after new runs in a fraction of a training. Empty: a random start.")


@dataclass
class Config:
    """A whole run: objectives, model, training and the random seed."""

    objectives: ObjectivesConfig = field(default_factory=ObjectivesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    seed: int = setting(42, "Random seed of the model and training, in [0, 2**24).")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def flat(self) -> dict[str, Any]:
        """``{"model.mf_dim": 32, ...}``: the form MLflow params and overrides use."""
        return dict(_flatten(self.to_dict()))

    def changed(self) -> dict[str, Any]:
        """The flat values that differ from the defaults (what a preset of it must hold)."""
        defaults = Config().flat()
        return {key: value for key, value in self.flat().items() if value != defaults[key]}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Config:
        """Build from a nested dict (e.g. a logged ``config.json``), strictly; keys that
        older versions logged but that no longer exist (:data:`REMOVED_KEYS`) are dropped,
        and so are ``model.*`` values the logged model never read (older versions accepted
        them; the run ignored them, so the config that ran is rebuilt)."""
        flat = {k: v for k, v in _flatten(values) if k not in REMOVED_KEYS}
        return with_overrides(cls(), _without_unread(flat))


def _flatten(values: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in values.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def valid_keys() -> list[str]:
    return sorted(Config().flat())


def field_types() -> dict[str, Any]:
    """The declared type of every dotted config key (``{"model.layers": list[int], ...}``)."""
    types_: dict[str, Any] = {}
    for section in dataclasses.fields(Config):
        section_type = typing.get_type_hints(Config)[section.name]
        if dataclasses.is_dataclass(section_type):
            hints = typing.get_type_hints(section_type)
            for sub in dataclasses.fields(section_type):
                types_[f"{section.name}.{sub.name}"] = hints[sub.name]
        else:
            types_[section.name] = section_type
    return types_


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["model.mf_dim=64", "model.layers=[64, 64]"]`` → ``{"model.mf_dim": 64, ...}``.

    Values are read as YAML scalars or lists, then checked against the field's type.
    """
    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override '{item}' is not of the form key=value")
        try:
            parsed[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            parsed[key.strip()] = text
    return parsed


def _coerce(key: str, value: Any, expected: Any) -> Any:
    if expected is Any:  # a field its reader checks itself
        return value
    origin = typing.get_origin(expected)
    if origin is list:
        (inner,) = typing.get_args(expected)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list of {inner.__name__}, got {value!r}")
        return [_coerce(key, item, inner) for item in value]
    if origin in (typing.Union, types.UnionType):  # X | None, for sections read_fields reads
        if value is None and type(None) in typing.get_args(expected):
            return None
        inner = [t for t in typing.get_args(expected) if t is not type(None)]
        if len(inner) != 1:
            raise ConfigError(f"{key}: unsupported type {expected}")
        return _coerce(key, value, inner[0])
    if expected is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    if expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key} must be a number, got {value!r}")
    if expected is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key} must be a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported type {expected}")


FieldsT = TypeVar("FieldsT")


def read_fields(cls: type[FieldsT], values: Any, section: str) -> FieldsT:
    """Dataclass ``cls`` from the mapping ``values`` (a section of a YAML file), as strictly as
    :func:`with_overrides`: an unknown or missing key is a ConfigError listing the valid keys,
    a value of the wrong type one naming ``section.key``."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{section} must be a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(map(str, values)) - set(fields))
    missing = [name for name, f in fields.items() if name not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if unknown or missing:
        problem = f"unknown key(s) {unknown}" if unknown else f"missing key(s) {missing}"
        raise ConfigError(f"{section}: {problem}; valid keys: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    return cls(**{str(k): _coerce(f"{section}.{k}", v, hints[str(k)]) for k, v in values.items()})


def with_overrides(config: Config, overrides: Mapping[str, Any]) -> Config:
    """A copy of ``config`` with dotted-path ``overrides`` applied and the result validated."""
    types_ = field_types()
    values = config.to_dict()
    for key, value in overrides.items():
        if key not in types_:
            raise ConfigError(
                f"unknown config key '{key}'; valid keys: {', '.join(sorted(types_))}"
            )
        coerced = _coerce(key, value, types_[key])
        section, _, name = key.partition(".")
        if name:
            values[section][name] = coerced
        else:
            values[section] = coerced
    result = Config(
        objectives=ObjectivesConfig(**values["objectives"]),
        model=ModelConfig(**values["model"]),
        training=TrainingConfig(**values["training"]),
        seed=values["seed"],
    )
    validate(result)
    return result


#: ``model.*`` keys that every kind reads; each kind reads the rest in :data:`KIND_KEYS`.
SHARED_MODEL_KEYS = (
    "kind", "activation", "baseline", "baseline_trainable", "baseline_fit", "cold_baseline",
    "quantiles", "loss",
)
#: Keys that only mean something with ``model.baseline`` on.
BASELINE_KEYS = ("baseline_trainable", "baseline_fit", "cold_baseline")
#: The model kinds and the ``model.*`` keys each reads beyond :data:`SHARED_MODEL_KEYS`;
#: validation rejects a changed value of any other key (it would be ignored). Pure data, kept
#: here rather than beside the builders (:data:`pitot_tf.models.registry.KINDS`, which must
#: name the same kinds) so that resolving a config never imports the models, Keras or
#: TensorFlow, and config stays below models.
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "pitot": (
        "mf_dim", "if_dim", "if_slope", "interference", "interference_form", "workload_tower",
        "platform_tower", "learned_features", "layers", "cold_dropout", "tower_rows",
    ),
    "monolith": ("monolith_layers",),
    "attention": ("attention_layers", "attention_dim", "value_dim", "output_layers"),
}


def model_kinds() -> tuple[str, ...]:
    """The model kinds (:data:`KIND_KEYS`)."""
    return tuple(KIND_KEYS)


def kind_keys(kind: str) -> tuple[str, ...]:
    """The ``model.*`` keys a kind reads beyond :data:`SHARED_MODEL_KEYS`."""
    return KIND_KEYS[kind]


def keys_read(model: ModelConfig) -> set[str]:
    """The ``model.*`` keys (without the prefix) that this model reads: the shared ones and its
    kind's, less the baseline-only ones when ``model.baseline`` is false."""
    used = set(SHARED_MODEL_KEYS) | set(kind_keys(model.kind))
    return used if model.baseline else used - set(BASELINE_KEYS)


def applicable(overrides: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """``overrides`` less the ``model.*`` keys that ``kind`` never reads. Only for settings
    that mean "whatever the kind" (a small model for any preset in a test or benchmark);
    anything else should name keys the kind reads and fail loudly otherwise."""
    used = set(SHARED_MODEL_KEYS) | set(kind_keys(kind))
    return {k: v for k, v in overrides.items()
            if not k.startswith("model.") or k.removeprefix("model.") in used}


def _without_unread(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``flat`` less the ``model.*`` keys its model never reads (an unknown kind: unchanged,
    for validation to reject)."""
    kind = flat.get("model.kind", ModelConfig().kind)
    if kind not in model_kinds():
        return dict(flat)
    used = keys_read(ModelConfig(kind=kind, baseline=flat.get("model.baseline") is not False))
    return {k: v for k, v in flat.items()
            if not k.startswith("model.") or k.removeprefix("model.") in used}


def _check_keys_apply(model: ModelConfig) -> None:
    """A changed ``model.*`` key that the chosen kind (or a switched-off baseline) never reads
    is an error, not a silently ignored setting."""
    used = keys_read(model)
    default = ModelConfig()
    for key in sorted(f.name for f in dataclasses.fields(ModelConfig)):
        if key not in used and getattr(model, key) != getattr(default, key):
            reason = ("model.baseline is false" if key in BASELINE_KEYS
                      else f"model.kind={model.kind} does not read it")
            raise ConfigError(
                f"model.{key}={getattr(model, key)!r} would be ignored: {reason} "
                f"(it reads {', '.join(f'model.{k}' for k in sorted(used))})"
            )


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _check_schedule(t: TrainingConfig) -> None:
    """``training.warmup`` and ``decay_steps``: in range, within the run, not with snapshots
    (whose cosine schedule would silently replace them)."""
    _check(t.warmup >= 0, f"training.warmup must be >= 0, got {t.warmup}")
    _check(t.decay_steps >= 0, f"training.decay_steps must be >= 0, got {t.decay_steps}")
    _check(t.warmup + t.decay_steps <= t.steps,
           f"training.warmup ({t.warmup}) + training.decay_steps ({t.decay_steps}) must be at "
           f"most training.steps ({t.steps}); set them lower with the steps")
    _check(not (t.snapshots and (t.warmup or t.decay_steps)),
           "training.warmup and training.decay_steps shape a constant learning rate; "
           "training.snapshots sets its own cosine schedule: use one or the other")


def _check_ensemble_variants(config: Config) -> None:
    """``training.ensemble_share`` and ``training.snapshots``: valid, and only where they act."""
    m, t = config.model, config.training
    _check(
        t.ensemble_share in ENSEMBLE_SHARES,
        f"training.ensemble_share must be one of {ENSEMBLE_SHARES}, got '{t.ensemble_share}'",
    )
    if t.ensemble_share == "towers":
        _check(t.ensemble >= 2, "training.ensemble_share=towers needs training.ensemble >= 2")
        _check(
            m.kind == "pitot" and m.workload_tower == m.platform_tower == "hybrid",
            "training.ensemble_share=towers shares hybrid towers: it needs model.kind=pitot "
            "with hybrid workload and platform towers",
        )
        _check(m.cold_dropout == 0, "training.ensemble_share=towers does not support "
               "model.cold_dropout")
    _check(t.block_platforms >= 0 and t.block_workloads >= 0,
           "training.block_platforms and block_workloads must be >= 0")
    _check(m.kind == "pitot" or not (t.block_platforms or t.block_workloads),
           "training.block_platforms and block_workloads (entity blocks) need model.kind=pitot")
    _check(t.snapshots >= 0, f"training.snapshots must be >= 0, got {t.snapshots}")
    _check(0.0 <= t.ema < 1.0, f"training.ema must be in [0, 1), got {t.ema}")
    _check(t.snapshots > 1 or t.snapshot_members == 0,
           "training.snapshot_members needs training.snapshots >= 2")
    if t.snapshots:
        _check(t.ensemble == 1 or t.snapshots == 1, "training.snapshots >= 2 cannot be "
               "combined with training.ensemble > 1 (snapshots=1, the cosine schedule, can)")
        _check(0 <= t.snapshot_members <= t.snapshots,
               f"training.snapshot_members must be in [0, training.snapshots={t.snapshots}], "
               f"got {t.snapshot_members}")
        _check(t.steps % t.snapshots == 0, f"training.steps ({t.steps}) must be a multiple of "
               f"training.snapshots ({t.snapshots}): the cycles have equal length")


def validate(config: Config) -> None:
    """Range and choice checks that a type alone cannot express."""
    m, t, o = config.model, config.training, config.objectives
    kinds = model_kinds()
    _check(m.kind in kinds, f"model.kind must be one of {kinds}, got '{m.kind}'")
    _check_keys_apply(m)
    _check(m.mf_dim >= 1, f"model.mf_dim must be >= 1, got {m.mf_dim}")
    _check(m.if_dim >= 1, f"model.if_dim must be >= 1, got {m.if_dim}")
    _check(0.0 <= m.if_slope <= 1.0, f"model.if_slope must be in [0, 1], got {m.if_slope}")
    _check(
        m.interference in INTERFERENCE_MODES,
        f"model.interference must be one of {INTERFERENCE_MODES}, got '{m.interference}'",
    )
    _check(
        m.interference_form in INTERFERENCE_FORMS,
        f"model.interference_form must be one of {INTERFERENCE_FORMS}, "
        f"got '{m.interference_form}'",
    )
    _check(
        m.tower_rows in TOWER_ROWS,
        f"model.tower_rows must be one of {TOWER_ROWS}, got '{m.tower_rows}'",
    )
    _check(
        m.baseline_fit in BASELINE_FITS,
        f"model.baseline_fit must be one of {BASELINE_FITS}, got '{m.baseline_fit}'",
    )
    for tower in ("workload_tower", "platform_tower"):
        _check(
            getattr(m, tower) in TOWER_KINDS,
            f"model.{tower} must be one of {TOWER_KINDS}, got '{getattr(m, tower)}'",
        )
    _check(
        m.learned_features >= 0, f"model.learned_features must be >= 0, got {m.learned_features}"
    )
    for name in ("layers", "monolith_layers", "attention_layers", "output_layers"):
        _check(all(w >= 1 for w in getattr(m, name)), f"model.{name} widths must be >= 1")
    _check(
        m.attention_dim >= 1 and m.value_dim >= 1, "model.attention_dim and value_dim must be >= 1"
    )
    _check(
        all(0.0 < q < 1.0 for q in m.quantiles),
        f"model.quantiles must each be in (0, 1), got {m.quantiles}",
    )
    _check(m.loss in LOSSES, f"model.loss must be one of {LOSSES}, got '{m.loss}'")
    _check(0.0 <= m.cold_dropout < 1.0,
           f"model.cold_dropout must be in [0, 1), got {m.cold_dropout}")
    _check(m.cold_baseline in COLD_BASELINES,
           f"model.cold_baseline must be one of {COLD_BASELINES}, got '{m.cold_baseline}'")
    _check(t.steps >= 1, f"training.steps must be >= 1, got {t.steps}")
    _check(t.val_every >= 1, f"training.val_every must be >= 1, got {t.val_every}")
    _check(t.batch >= 1, f"training.batch must be >= 1, got {t.batch}")
    _check(t.ensemble >= 1, f"training.ensemble must be >= 1, got {t.ensemble}")
    _check_ensemble_variants(config)
    _check(
        t.optimizer in OPTIMIZERS,
        f"training.optimizer must be one of {OPTIMIZERS}, got '{t.optimizer}'",
    )
    _check(t.learning_rate > 0, f"training.learning_rate must be > 0, got {t.learning_rate}")
    _check_schedule(t)
    _check(not has_secret(t.init_from),
           "training.init_from must not hold a password or token (the config is logged whole): "
           "give a runs:/ or models:/ URI, or a .keras file")
    _check(0 <= t.beta_1 < 1 and 0 <= t.beta_2 < 1, "training.beta_1 and beta_2 must be in [0, 1)")
    _check(t.weight_decay >= 0, f"training.weight_decay must be >= 0, got {t.weight_decay}")
    _check(o.matrix_weight >= 0 and o.interference_weight >= 0, "objective weights must be >= 0")
    _check(
        0 <= config.seed < SEED_LIMIT, f"seed must be in [0, {SEED_LIMIT}), got {config.seed}"
    )


def objective_weights(config: Config, objectives: Iterable[str]) -> dict[str, float]:
    """Loss weight per objective: matrix weight for ``mf``; the total interference weight
    shared equally among the interference objectives present."""
    names = list(objectives)
    interference = [n for n in names if n != "mf"]
    weights = {}
    for name in names:
        if name == "mf":
            weights[name] = config.objectives.matrix_weight
        else:
            weights[name] = config.objectives.interference_weight / len(interference)
    return weights
