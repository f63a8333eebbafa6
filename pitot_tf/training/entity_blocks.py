"""Entity-blocked batches: each step trains on the rows of one block of platforms × workloads.

With the towers run on the batch's rows (``model.tower_rows=batch``) a step's cost no longer
grows with the number of entities, but a batch of ``B`` rows over thousands of entities names
about ``B`` distinct platforms and ``B`` distinct workloads, where the published data's whole
axes are 231 + 249. Large-scale matrix factorization answers this with stratified (block)
SGD: the platforms are split into groups of at most ``training.block_platforms`` and the
workloads into groups of at most ``training.block_workloads`` (one random partition per run,
from the run's seed); a pair of groups is a *block*. Each step draws one block, then every
objective's batch among its training rows inside the block (a row belongs to the block of its
platform and its workload; co-runners may lie anywhere and are embedded per slot). The towers
then run on the block's ``P + W`` entities and the co-runner slots
(:func:`pitot_tf.models.batch_rows.batch_rows` with :class:`~pitot_tf.models.block.Entities`).

Frequencies: block ``b`` is drawn with probability ``π(b) = Σ_k c_k n_k(b) / N_k`` (``c_k``:
objective ``k``'s share of the loss weight, ``n_k(b)``: its training rows in ``b`` of
``N_k``), and objective ``k``'s rows of that step get the loss factor ``(n_k(b) / N_k) /
π(b)``. A row is then drawn with probability ``π(b) / n_k(b)`` per batch slot, times that
factor: ``1 / N_k``, as without blocks, so the expected gradient is unchanged; with a single
objective the factor is exactly 1. A block without rows of an objective gives that
objective's slots weight 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from pitot_tf.models.block import Block, Entities
from pitot_tf.training.batches import Batch, Rows

#: Offset of the block draw's seed among a stream's seeds (objective ``i`` uses ``i``).
BLOCK_SEED = 130


@dataclass(frozen=True)
class Partition:
    """One axis split into groups: ``groups`` ``(K, width)`` entity indices (a short group
    padded with its first entity, which no row's position refers to), and per entity its
    ``group`` and its ``position`` in it."""

    groups: np.ndarray
    group: np.ndarray
    position: np.ndarray

    @property
    def count(self) -> int:
        return len(self.groups)


def partition(entities: int, size: int, rng: np.random.Generator) -> Partition:
    """``entities`` split at random into the fewest groups of at most ``size`` (0: one
    group), their sizes within one of each other."""
    count = max(1, math.ceil(entities / size)) if size else 1
    width = math.ceil(entities / count)
    groups = np.zeros((count, width), np.int32)
    group = np.zeros(entities, np.int32)
    position = np.zeros(entities, np.int32)
    for g, members in enumerate(np.array_split(rng.permutation(entities), count)):
        groups[g, : len(members)] = members
        groups[g, len(members) :] = members[0]
        group[members], position[members] = g, np.arange(len(members))
    return Partition(groups, group, position)


def block_counts(platforms: int, workloads: int, block_platforms: int,
                 block_workloads: int) -> tuple[int, int]:
    """The number of platform and workload groups (blocking is on when their product > 1)."""
    return (max(1, math.ceil(platforms / block_platforms)) if block_platforms else 1,
            max(1, math.ceil(workloads / block_workloads)) if block_workloads else 1)


class EntityBlockSampler:
    """Draws each step's block and the objectives' batches in it, in-graph (see the module).

    ``parts``: each objective's training rows (own co-runner width); ``weights``: their loss
    weights; ``axes``: the number of platforms and workloads; ``sizes``: the block's
    ``(block_platforms, block_workloads)``."""

    def __init__(self, parts: list[Rows], weights: list[float], batch: int, seed: int,
                 axes: tuple[int, int], sizes: tuple[int, int]) -> None:
        rng = np.random.default_rng([seed, 7])
        self.platform = partition(axes[0], sizes[0], rng)
        self.workload = partition(axes[1], sizes[1], rng)
        self.blocks = blocks = self.platform.count * self.workload.count
        counts = np.zeros((len(parts), blocks), np.int64)
        self.parts = []
        for i, part in enumerate(parts):
            block = (self.platform.group[part.platform] * self.workload.count
                     + self.workload.group[part.workload])
            order = np.argsort(block, kind="stable")
            counts[i] = np.bincount(block, minlength=blocks)
            fields = {**part.inputs(), "y": part.log_runtime,
                      "platform_at": self.platform.position[part.platform],
                      "workload_at": self.workload.position[part.workload]}
            self.parts.append({k: tf.constant(v[order]) for k, v in fields.items()})
        self.sizes = [len(p) for p in parts]
        self.batch, self.seed = batch, seed
        self._set_draws(counts, np.asarray(weights, np.float64))

    def _set_draws(self, counts: np.ndarray, weights: np.ndarray) -> None:
        """The block probabilities (cumulative), each objective's rows and first row per
        block, and its loss factor per block (see the module)."""
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        probability = (weights / weights.sum()) @ share
        factor = np.divide(share, probability, out=np.zeros_like(share),
                           where=probability > 0)
        self.last = tf.constant(int(np.flatnonzero(probability > 0)[-1]), tf.int32)
        self.cumulative = tf.constant(np.cumsum(probability))
        self.counts = tf.constant(counts.astype(np.int32))
        self.starts = tf.constant((np.cumsum(counts, axis=1) - counts).astype(np.int32))
        self.factor = tf.constant(factor.astype(np.float32))
        self.groups = (tf.constant(self.platform.groups), tf.constant(self.workload.groups))

    def sample(self, step: tf.Tensor, stream: int | None = None) -> Batch:
        """One block, and ``batch`` rows per objective drawn in it; draws of another
        ``stream`` (seed; default the sampler's) are independent."""
        stream = self.seed if stream is None else stream

        def seed(offset: int) -> tf.Tensor:
            return tf.stack([tf.cast(step, tf.int64), tf.constant(stream * 131 + offset,
                                                                  tf.int64)])

        u = tf.random.stateless_uniform((), seed(BLOCK_SEED), dtype=tf.float64)
        b = tf.minimum(tf.reduce_sum(tf.cast(self.cumulative <= u, tf.int32)), self.last)
        blocks, targets, scales, at = [], [], [], []
        for i, part in enumerate(self.parts):
            # Gathers, not slices at ``b``: XLA compiles a slice at a run-time index once
            # per value.
            rows = tf.maximum(tf.gather(self.counts[i], b), 1)
            index = tf.gather(self.starts[i], b) + tf.random.stateless_uniform(
                (self.batch,), seed(i), 0, rows, dtype=tf.int32)
            drawn = {k: tf.gather(v, tf.minimum(index, self.sizes[i] - 1))
                     for k, v in part.items()}
            blocks.append(Block(drawn["platform"], drawn["workload"], drawn["interferers"]))
            targets.append(drawn["y"])
            scales.append(tf.fill((self.batch,), tf.gather(self.factor[i], b)))
            at.append((drawn["platform_at"], drawn["workload_at"]))
        count = self.workload.count
        entities = Entities(tf.gather(self.groups[0], b // count),
                            tf.gather(self.groups[1], b % count),
                            tf.concat([p for p, _ in at], 0), tf.concat([w for _, w in at], 0))
        return Batch(blocks, tf.concat(targets, 0), entities, tf.concat(scales, 0))
