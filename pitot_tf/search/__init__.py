"""Optuna studies for Pitot and its baselines (``pitot-tf search``; see ``docs/search.md``).

Modules (import the one you need; most pull in Optuna, some TensorFlow and MLflow):
:mod:`~pitot_tf.search.studies` (study files), :mod:`~pitot_tf.search.space` and
:mod:`~pitot_tf.search.algorithms` (what a study samples, and how),
:mod:`~pitot_tf.search.storage` and :mod:`~pitot_tf.search.heartbeat` (where trials live, and
how a dead worker's trial is found), :mod:`~pitot_tf.search.processes` (``--workers``), the
trial (:mod:`~pitot_tf.search.metrics`, :mod:`~pitot_tf.search.objective`),
:mod:`~pitot_tf.search.parent_run`, :mod:`~pitot_tf.search.runner` (:func:`run_search`),
:mod:`~pitot_tf.search.export` and :mod:`~pitot_tf.search.dashboard`.
"""
