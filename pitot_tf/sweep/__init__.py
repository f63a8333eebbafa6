"""Sweeps: every (preset × level × replicate) cell trained once, resumably, on many workers.

``pitot-tf sweep`` (see ``docs/sweeps.md``) keeps its record in MLflow, the only thing its
workers share. Start at :mod:`~pitot_tf.sweep.runner` (:func:`~pitot_tf.sweep.runner.run_sweep`);
tables and figures are in :mod:`pitot_tf.reporting`.
"""
