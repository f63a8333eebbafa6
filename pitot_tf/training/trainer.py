"""The multi-objective trainer: one compiled loop, validation every ``val_every`` steps.

Each step draws a batch from the train rows of every objective and passes them to the model as
one block per objective (:mod:`pitot_tf.models.blocks`: towers run once, and each block's
co-runner count is static, so the matrix block pays for no co-runner slot); it minimizes the
weighted sum of per-objective mean losses. ``val_every`` steps run inside one compiled graph
call (the gradient computation XLA-compiled), so Python is touched only between validations.
The weights with the best weighted validation loss are kept and returned.

An ensemble (``training.ensemble=E``) trains its E members in the same compiled step: each
member draws its own batch (from its own seed) and the loss minimized is the sum of the
members' own losses, so each member's weights get exactly the gradient they would get alone
(the reported ``train_loss`` is the members' mean). The best weights are chosen by the
ensemble's (the mean prediction's) validation loss: that is what is predicted and calibrated.
With ``training.ensemble_share=towers`` the members share their towers' hidden layers and
draw one batch per step together (:func:`pitot_tf.models.ensemble.shared_member_outputs`).

A snapshot ensemble (``training.snapshots=M``) trains one model with cosine restarts, keeps
the best validation weights of each cycle and ends as the ensemble of the last of those
snapshots (:mod:`pitot_tf.training.snapshots`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from pitot_tf.config import SEED_LIMIT, Config, objective_weights
from pitot_tf.data.dataset import Dataset
from pitot_tf.data.splits import Split
from pitot_tf.errors import PitotError
from pitot_tf.models import build_model, fit_baseline
from pitot_tf.models.blocks import Block, predict_blocks
from pitot_tf.models.cold import neutralize_unseen
from pitot_tf.models.ensemble import (
    is_shared,
    member_models,
    member_seed,
    shared_member_outputs,
)
from pitot_tf.models.parts import model_parts
from pitot_tf.training.batches import Batch, Rows, max_interferers, rows_of
from pitot_tf.training.entity_blocks import EntityBlockSampler, block_counts
from pitot_tf.training.losses import row_loss
from pitot_tf.training.runtime import configure_threads
from pitot_tf.training.schedule import learning_rate
from pitot_tf.training.snapshots import cycle_ends, last_best, snapshot_ensemble
from pitot_tf.training.warm_start import copy_weights, load_keras_model

ValidationCallback = Callable[[int, float, dict[str, float]], None]


class TrainingDiverged(PitotError):
    """The loss became NaN or infinite; the run cannot continue."""


@dataclass
class TrainResult:
    """A trained model (best validation weights) and how it got there; ``snapshot_steps``:
    the steps of a snapshot ensemble's members (empty for other runs)."""

    model: keras.Model
    history: pd.DataFrame
    best_step: int
    best_val_loss: float
    wall_s: float
    steps_per_s: float
    snapshot_steps: list[int] = dataclasses.field(default_factory=list)


def make_optimizer(config: Config) -> keras.optimizers.Optimizer:
    t = config.training
    kinds = {
        "adamax": keras.optimizers.Adamax,
        "adamw": keras.optimizers.AdamW,
        "adam": keras.optimizers.Adam,
    }
    return kinds[t.optimizer](
        learning_rate=learning_rate(config),
        beta_1=t.beta_1,
        beta_2=t.beta_2,
        weight_decay=t.weight_decay or None,
        use_ema=t.ema > 0,
        ema_momentum=t.ema or 0.99,
    )


def training_seed(seed: int, level: float | None, replicate: int | None) -> int:
    """The seed of one run's initial weights and batch order, from ``(seed, level,
    replicate)``: every replicate (and level) starts differently, as in the reference
    (``fold_in(split_key, seed)``), so error bars over replicates include initialisation
    variance, while one ``(seed, level, replicate)`` always trains the same way. A split
    without a level or replicate (a file outside ``<level>/<replicate>.npz``) counts as
    ``-1``. The result is below :data:`~pitot_tf.config.SEED_LIMIT`."""
    level_key = -1 if level is None else round(level * 1_000_000)
    replicate_key = -1 if replicate is None else replicate
    words = [seed, level_key + 1, replicate_key + 1]
    state = np.random.SeedSequence(words).generate_state(1, np.uint32)[0]
    return int(state) % SEED_LIMIT


class _Sampler:
    """Train rows of every objective as constant tensors, sampled in-graph each step; each
    objective keeps its own co-runner count (its rows' width), so that a step's batch is one
    :class:`~pitot_tf.models.blocks.Block` per objective with a static number of slots."""

    def __init__(self, parts: list[Rows], batch: int, seed: int) -> None:
        self.parts = [
            {k: tf.constant(v) for k, v in {**p.inputs(), "y": p.log_runtime}.items()}
            for p in parts
        ]
        self.sizes = [len(p) for p in parts]
        self.batch, self.seed = batch, seed

    def sample(self, step: tf.Tensor, stream: int | None = None) -> Batch:
        """One block of ``batch`` rows per objective, and their targets concatenated in block
        order; draws of another ``stream`` (seed; default the sampler's) are independent."""
        stream = self.seed if stream is None else stream
        blocks, targets = [], []
        for i, (part, size) in enumerate(zip(self.parts, self.sizes, strict=True)):
            seed = tf.stack([tf.cast(step, tf.int64), tf.constant(stream * 131 + i, tf.int64)])
            index = tf.random.stateless_uniform((self.batch,), seed, 0, size, dtype=tf.int32)
            drawn = {k: tf.gather(v, index) for k, v in part.items()}
            blocks.append(Block(drawn["platform"], drawn["workload"], drawn["interferers"]))
            targets.append(drawn["y"])
        return Batch(blocks, tf.concat(targets, axis=0))


class Trainer:
    """Trains one model on one split; see :func:`train`."""

    def __init__(self, config: Config, dataset: Dataset, split: Split,
                 start: keras.Model | None = None) -> None:
        configure_threads()
        self.config, self.dataset, self.split = config, dataset, split
        objectives = [name for name in split.objectives() if name in dataset.objectives]
        if config.objectives.include:
            objectives = [n for n in objectives if n in config.objectives.include]
        weights = objective_weights(config, objectives)
        self.objectives = [n for n in objectives if weights[n] > 0 and len(split.rows(n, "train"))]
        if not self.objectives:
            raise PitotError("no objective has training rows with a positive weight")
        _require_validation(split, self.objectives)
        self.weights = weights
        self.width = max_interferers(dataset)
        self.seed = training_seed(config.seed, split.level, split.replicate)
        self.model = build_model(dataclasses.replace(config, seed=self.seed), dataset)
        fit_baseline(self.model, config, dataset, split)
        if config.training.init_from or start is not None:
            copy_weights(start if start is not None else load_keras_model(
                config.training.init_from), self.model, config.training.init_from or "model")
        self.members = member_models(self.model)
        self.member_seeds = [member_seed(self.seed, e) for e in range(len(self.members))]
        self.optimizer = make_optimizer(config)
        self.optimizer.build(self.model.trainable_variables)
        self.sampler = self._sampler()
        self.validation = {n: self._rows(n, "val") for n in weights if len(split.rows(n, "val"))}
        self.row_weights = tf.constant(
            np.concatenate(
                [
                    np.full(config.training.batch, weights[n] / config.training.batch, np.float32)
                    for n in self.objectives
                ]
            )
        )
        # XLA fuses the forward and backward pass (about 1.6x faster on CPU); the optimizer
        # update and the loop stay in the plain graph, where they measured faster.
        # No AutoGraph: the traced code has no Python control flow on tensors (the loop is
        # an explicit while_loop), and converting the model's code cost about 2 CPU s of
        # every run's first step (docs/benchmarks.md, "Time to accuracy").
        self._compiled_gradients = tf.function(
            self._gradients, jit_compile=config.training.jit_compile, autograph=False
        )
        self._steps = tf.function(self._run_steps, reduce_retracing=True, autograph=False)
        self._predict = _predict_function(self._forward)

    def _sampler(self) -> _Sampler | EntityBlockSampler:
        """The training rows' sampler: entity-blocked where ``training.block_platforms`` or
        ``block_workloads`` splits an axis (:mod:`pitot_tf.training.entity_blocks`)."""
        t = self.config.training
        train = [self._rows(n, "train", own_width=True) for n in self.objectives]
        axes = (len(self.dataset.platforms), len(self.dataset.workloads))
        sizes = (t.block_platforms, t.block_workloads)
        if math.prod(block_counts(*axes, *sizes)) == 1:
            return _Sampler(train, t.batch, self.seed)
        weights = [self.weights[n] for n in self.objectives]
        return EntityBlockSampler(train, weights, t.batch, self.seed, axes, sizes)

    def _seen_rows(self) -> dict[str, np.ndarray]:
        """Which platforms and workloads (as workload or co-runner) appear in training rows."""
        seen = {"platform": np.zeros(len(self.dataset.platforms), bool),
                "workload": np.zeros(len(self.dataset.workloads), bool)}
        for name in self.objectives:
            obs = self.dataset.objectives[name].take(self.split.rows(name, "train"))
            seen["platform"][obs.platform] = True
            seen["workload"][obs.workload] = True
            seen["workload"][obs.interferers.ravel()] = True
        return seen

    def _rows(self, objective: str, part: str, own_width: bool = False) -> Rows:
        """Rows of ``objective`` in ``part``, co-runners padded to the widest objective (the
        one-batch layout of ``model(inputs)``) or, with ``own_width``, as the objective's own
        (training blocks)."""
        data = self.dataset.objectives[objective]
        width = data.degree - 1 if own_width else self.width
        return rows_of(data, self.split.rows(objective, part), width)

    def _loss(self, step: tf.Tensor) -> tf.Tensor:
        """Sum over members (one for a single model) of the member's weighted loss on its
        own batch for ``step``."""
        m = self.config.model
        losses = []
        for batch, prediction in self._member_predictions(step):
            row = row_loss(batch.target, prediction, m.loss, m.quantiles) * self.row_weights
            losses.append(tf.reduce_sum(row if batch.scale is None else row * batch.scale))
        return tf.add_n(losses)

    def _member_predictions(self, step: tf.Tensor) -> list[tuple[Batch, tf.Tensor]]:
        """Each member's batch and training-mode predictions for ``step``: on its own
        batch, or (shared towers) all on member 0's batch through one pass of the towers."""
        if is_shared(self.model):
            batch = self.sampler.sample(step)
            return [(batch, p) for p in shared_member_outputs(self.model, batch.blocks, True,
                                                               batch.entities)]
        pairs = []
        for member, seed in zip(self.members, self.member_seeds, strict=True):
            batch = self.sampler.sample(step, seed)
            pairs.append((batch, predict_blocks(member, batch.blocks, True, batch.entities)))
        return pairs

    def _gradients(self, step: tf.Tensor) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """The loss for ``step`` (the members' mean) and the gradients of every trainable
        weight (of the members' sum)."""
        with tf.GradientTape() as tape:
            loss = self._loss(step)
        gradients = tape.gradient(loss, self.model.trainable_variables)
        return loss / len(self.members), gradients

    def _run_steps(self, start: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
        """``count`` optimizer steps; returns the mean training loss over them."""
        variables = self.model.trainable_variables

        def step_once(step: tf.Tensor, total: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            loss, gradients = self._compiled_gradients(step)
            self.optimizer.apply(gradients, variables)
            return step + 1, total + loss

        _, total = tf.while_loop(lambda step, _: step < start + count, step_once,
                                 (start, tf.constant(0.0)))
        return total / tf.cast(count, tf.float32)

    def _forward(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        return self.model(inputs, training=False)

    def predict_rows(self, rows: Rows, chunk: int = 65_536) -> np.ndarray:
        """``(n, heads)`` predicted log runtime for ``rows``."""
        out = [
            self._predict(
                {k: tf.constant(v[i : i + chunk]) for k, v in rows.inputs().items()}
            ).numpy()
            for i in range(0, len(rows), chunk)
        ]
        return (
            np.concatenate(out) if out else np.zeros((0, self.model.output_shape[-1]), np.float32)
        )

    def validation_losses(self) -> dict[str, float]:
        m = self.config.model
        losses = {}
        for name, rows in self.validation.items():
            pred = tf.constant(self.predict_rows(rows))
            losses[name] = float(
                tf.reduce_mean(row_loss(tf.constant(rows.log_runtime), pred, m.loss, m.quantiles))
            )
        return losses

    def weighted(self, losses: dict[str, float]) -> float:
        return float(sum(self.weights[n] * v for n, v in losses.items() if n in self.objectives))

    def fit(self, on_validation: ValidationCallback | None = None) -> TrainResult:
        """Train for ``training.steps`` steps; keep and restore the best validation weights
        (of each cycle, for a snapshot ensemble, which then becomes the model)."""
        t = self.config.training
        ends = cycle_ends(self.config) if t.snapshots else [t.steps]
        best: tuple[float, int, list[np.ndarray]] = (math.inf, 0, self.model.get_weights())
        snapshots: list[tuple[float, int, list[np.ndarray]]] = []
        records: list[dict[str, float]] = []
        progress = _progress_bar(t.steps, t.progress)
        started = time.perf_counter()
        done = 0
        while done < t.steps:
            end = next(e for e in ends if e > done)
            count = min(t.val_every, end - done)
            train_loss = float(self._steps(tf.constant(done), tf.constant(count)))
            done += count
            if not math.isfinite(train_loss):
                progress.close()
                raise TrainingDiverged(
                    f"training loss became {train_loss} by step {done}; "
                    "lower training.learning_rate or check the data"
                )
            with self._averaged_weights():
                val = self.validation_losses()
                weighted = self.weighted(val)
                if weighted < best[0]:
                    best = (weighted, done, self.model.get_weights())
            records.append(
                {
                    "step": done,
                    "train_loss": train_loss,
                    "val_loss": weighted,
                    **{f"val_{n}_loss": v for n, v in val.items()},
                }
            )
            if t.snapshots > 1 and done == end:
                snapshots.append(best)
                best = (math.inf, 0, best[2])
            progress.update(count)
            progress.set_postfix(train=f"{train_loss:.4f}", val=f"{weighted:.4f}")
            if on_validation is not None:
                on_validation(done, weighted, val)
        progress.close()
        wall = time.perf_counter() - started
        members: list[int] = []
        if snapshots:
            best, members = self._use_snapshots(snapshots)
        elif best[1]:
            self.model.set_weights(best[2])
        self._finish_unseen()
        return TrainResult(
            self.model,
            pd.DataFrame.from_records(records),
            best[1],
            best[0],
            wall,
            t.steps / wall if wall else 0.0,
            members,
        )

    @contextlib.contextmanager
    def _averaged_weights(self) -> Iterator[None]:
        """With ``training.ema``, the moving average of the weights in place of the trained
        ones for the block (validation scores it, and the kept weights are it); the trained
        weights come back after, and training goes on from them."""
        if not self.config.training.ema:
            yield
            return
        variables = self.model.trainable_variables
        trained = [variable.numpy() for variable in variables]
        self.optimizer.finalize_variable_values(variables)
        try:
            yield
        finally:
            for variable, value in zip(variables, trained, strict=True):
                variable.assign(value)

    def _use_snapshots(
        self, snapshots: list[tuple[float, int, list[np.ndarray]]]
    ) -> tuple[tuple[float, int, list[np.ndarray]], list[int]]:
        """Make the ensemble of the last snapshots (as many as ``training.snapshot_members``
        says, or the count whose mean has the lowest validation loss) the model; returns its
        validation loss, the last snapshot's step and weights, and the members' steps."""
        weights = [w for _, _, w in snapshots]
        losses = self._suffix_losses(weights)
        count = self.config.training.snapshot_members or last_best(losses)
        self.model = snapshot_ensemble(self.model, weights[-count:], self.config,
                                       self.dataset)
        self._predict = _predict_function(self._forward)
        steps = [step for _, step, _ in snapshots[-count:]]
        return (losses[count - 1], steps[-1], weights[-1]), steps

    def _suffix_losses(self, snapshots: list[list[np.ndarray]]) -> list[float]:
        """Weighted validation loss of the mean prediction of the last ``k`` of
        ``snapshots`` (weights of :attr:`model`), for ``k = 1 … len(snapshots)``."""
        m = self.config.model
        predictions = []
        for weights in snapshots:
            self.model.set_weights(weights)
            predictions.append({n: self.predict_rows(r) for n, r in self.validation.items()})
        losses = []
        for k in range(1, len(snapshots) + 1):
            per_objective = {}
            for name, rows in self.validation.items():
                mean = np.mean([p[name] for p in predictions[-k:]], axis=0)
                row = row_loss(tf.constant(rows.log_runtime), tf.constant(mean), m.loss,
                               m.quantiles)
                per_objective[name] = float(tf.reduce_mean(row))
            losses.append(self.weighted(per_objective))
        return losses

    def _finish_unseen(self) -> None:
        """Rows that training never saw get neutral free weights and their baseline terms
        from features (:mod:`pitot_tf.models.cold`)."""
        seen = self._seen_rows()
        neutralize_unseen(self.model, seen)
        features = {"platform": self.dataset.platforms.features,
                    "workload": self.dataset.workloads.features}
        for layer in model_parts(self.model).baselines:  # one per ensemble member
            if layer.trainable_scales:
                layer.restore_unfitted(seen, features)


def _predict_function(forward: Callable[[dict[str, tf.Tensor]], tf.Tensor]
                      ) -> Callable[[dict[str, tf.Tensor]], tf.Tensor]:
    """``forward`` as the graph function that prediction and validation call (not XLA: it
    is called on a few shapes a run; no AutoGraph, as for training)."""
    return tf.function(forward, jit_compile=False, reduce_retracing=True, autograph=False)


def _require_validation(split: Split, objectives: list[str]) -> None:
    """PitotError unless every trained objective has validation rows: the best weights are
    chosen (and a search scores a trial) on them, so without any the first weights would
    silently be kept."""
    empty = [name for name in objectives if not len(split.rows(name, "val"))]
    if empty:
        where = f" (level {split.level:g})" if split.level is not None else ""
        raise PitotError(
            f"the validation split{where} of objective(s) {', '.join(empty)} is empty: "
            "the best weights are chosen on validation rows; use a larger level or split"
        )


def _progress_bar(total: int, enabled: bool):  # type: ignore[no-untyped-def]
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit="step", desc="train", leave=False)


def train(
    config: Config, dataset: Dataset, split: Split, on_validation: ValidationCallback | None = None,
    start: keras.Model | None = None,
) -> TrainResult:
    """Build a model for ``config``, fit its baseline and train it on ``split``.

    ``on_validation(step, weighted_val_loss, per_objective)`` is called after every
    validation (a search uses it to report and prune; it may raise to stop training).
    ``start``: a trained model to start from (as ``training.init_from`` names one).
    """
    return Trainer(config, dataset, split, start).fit(on_validation)
