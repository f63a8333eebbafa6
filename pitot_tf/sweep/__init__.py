"""Sweeps: every (preset × level × replicate) cell trained once, resumably, on many workers.

``pitot-tf sweep`` reproduces the paper's experiments (see ``docs/sweeps.md``); MLflow is the
record and the only thing workers share. Modules: :mod:`~pitot_tf.sweep.cells` (the cells),
:mod:`~pitot_tf.sweep.keys` and :mod:`~pitot_tf.sweep.tags` (what makes a run reusable; the
sweep id), :mod:`~pitot_tf.sweep.lookup`, :mod:`~pitot_tf.sweep.claims` (who trains a cell)
and :mod:`~pitot_tf.sweep.parent` (MLflow), :mod:`~pitot_tf.sweep.worker` and
:mod:`~pitot_tf.sweep.runner` (:func:`run_sweep`). Runs left RUNNING by dead processes:
:mod:`pitot_tf.tracking.repair`. Tables and figures are in :mod:`pitot_tf.reporting`.
"""
