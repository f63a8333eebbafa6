"""Optuna studies for Pitot and its baselines (``pitot-tf search``; see ``docs/search.md``).

Modules (import the one you need; most pull in Optuna, some TensorFlow and MLflow):

* :mod:`~pitot_tf.search.studies` -- read and validate ``studies/<name>.yaml``.
* :mod:`~pitot_tf.search.space` -- search-space entries and sampling.
* :mod:`~pitot_tf.search.algorithms` -- the sampler and pruner a study names.
* :mod:`~pitot_tf.search.storage` -- journal file or database storage (with heartbeats).
* :mod:`~pitot_tf.search.gate` -- admission so that exactly N trials finish over all workers.
* :mod:`~pitot_tf.search.metrics` and :mod:`~pitot_tf.search.objective` -- the trial objective.
* :mod:`~pitot_tf.search.mlflow_callback` and :mod:`~pitot_tf.search.parent_run` -- MLflow
  (each trial is a training run made by :func:`~pitot_tf.tracking.training.run_training`).
* :mod:`~pitot_tf.search.worker` and :mod:`~pitot_tf.search.runner` -- :func:`run_search`.
* :mod:`~pitot_tf.search.export` -- a trial as a preset; :mod:`~pitot_tf.search.dashboard`;
  :mod:`~pitot_tf.search.report` -- what ``pitot-tf search`` prints.
"""
