"""Sweeps: every (preset × level × replicate) cell trained once, resumably, on many workers.

``pitot-tf sweep`` reproduces the paper's experiments (see ``docs/sweeps.md``). Modules
(import the one you need; most pull in MLflow or Optuna, the workers also TensorFlow):

* :mod:`~pitot_tf.sweep.cells` -- the sweep definition and its cells; ``--replicates 0-4``.
* :mod:`~pitot_tf.sweep.keys` -- the ``sweep_key`` that makes a finished run reusable, and
  the sweep id (which names the Optuna study).
* :mod:`~pitot_tf.sweep.tags` and :mod:`~pitot_tf.sweep.processes` -- tag names; which
  process (host, pid) owns a run or trial and whether it is still alive.
* :mod:`~pitot_tf.sweep.queue` -- the Optuna study that hands the cells out.
* :mod:`~pitot_tf.sweep.lookup` -- finding a reusable run, and a sweep's finished cells.
* :mod:`~pitot_tf.sweep.parent` -- the sweep's MLflow parent run.
* :mod:`~pitot_tf.sweep.worker`, :mod:`~pitot_tf.sweep.progress` and
  :mod:`~pitot_tf.sweep.runner` -- :func:`~pitot_tf.sweep.runner.run_sweep`.
* :mod:`~pitot_tf.sweep.repair` -- mark runs left RUNNING by dead processes KILLED.
* :mod:`~pitot_tf.sweep.summary` -- mean ± 2 standard errors over replicates.
* :mod:`~pitot_tf.sweep.figures`, :mod:`~pitot_tf.sweep.analysis` and
  :mod:`~pitot_tf.sweep.report` -- the paper's figures (``pitot-tf sweep figures``).
"""
