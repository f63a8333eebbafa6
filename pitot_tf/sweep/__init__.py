"""Sweeps: every (preset × level × replicate) cell trained once, resumably, on many workers.

``pitot-tf sweep`` reproduces the paper's experiments (see ``docs/sweeps.md``). Modules
(import the one you need; most pull in MLflow or Optuna, the workers also TensorFlow):
:mod:`~pitot_tf.sweep.cells` (the cells), :mod:`~pitot_tf.sweep.keys` and
:mod:`~pitot_tf.sweep.tags` (what makes a run reusable; the sweep id), the study that hands out
the cells (:mod:`~pitot_tf.sweep.queue`, on the search machinery), :mod:`~pitot_tf.sweep.lookup`
and :mod:`~pitot_tf.sweep.parent` (MLflow), :mod:`~pitot_tf.sweep.worker` and
:mod:`~pitot_tf.sweep.runner` (:func:`run_sweep`), :mod:`~pitot_tf.sweep.repair` (runs left
RUNNING), :mod:`~pitot_tf.sweep.summary`, :mod:`~pitot_tf.sweep.figures`,
:mod:`~pitot_tf.sweep.analysis` and :mod:`~pitot_tf.sweep.report` (tables and figures).
"""
