"""Measurement planning: which (platform, co-runner set) rows of a new or known workload to
measure next, so that a few measurements teach the model the most.

Modules (one job each):

* :mod:`~pitot_tf.planning.rows` -- candidate rows (platform, co-runners) as index arrays:
  every platform alone or beside given co-runner sets, deduplicated, measured rows removed.
* :mod:`~pitot_tf.planning.entity` -- what the model says about one workload on each candidate
  row: its predicted log runtime per member, its conformal bound, and the row's design vector
  (the gradient of the prediction with respect to the workload's embedding and baseline).
* :mod:`~pitot_tf.planning.random_choice`, :mod:`~pitot_tf.planning.widest_bound`,
  :mod:`~pitot_tf.planning.disagreement`, :mod:`~pitot_tf.planning.doptimal`,
  :mod:`~pitot_tf.planning.variance`, :mod:`~pitot_tf.planning.cost_aware` -- the
  strategies, each a function
  ``(outlook, budget, rng) -> [(candidate index, gain)]``.
* :mod:`~pitot_tf.planning.picks` -- what a strategy returns.
* :mod:`~pitot_tf.planning.strategies` -- the strategies by name.
* :mod:`~pitot_tf.planning.measured` -- a file of measured runtimes, read and checked.
* :mod:`~pitot_tf.planning.fold` -- those runtimes folded into the model before planning.
* :mod:`~pitot_tf.planning.served` -- the planning model of a served ``pyfunc-model``.
* :mod:`~pitot_tf.planning.plan` -- one plan: checks the budget, runs a strategy, and returns
  the proposed rows with their predicted runtime, bound and expected gain.

It reads a served model (:class:`~pitot_tf.serving.pyfunc.PitotRuntimeModel`) and its numpy
tables; nothing here trains.
"""
