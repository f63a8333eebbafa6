"""Optuna studies for Pitot and its baselines (``pitot-tf search``; see ``docs/search.md``).

Start at :mod:`~pitot_tf.search.runner` (:func:`~pitot_tf.search.runner.run_search`); most
modules pull in Optuna, some TensorFlow and MLflow, so import the one you need.
"""
