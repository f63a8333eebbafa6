"""MLflow tracking for Pitot: runs that log everything needed to trust and reuse a model.

This package holds the run side of MLflow: experiments, runs, their params, metrics and
artifacts, and the pipeline steps that make them. What a logged model does once it is served
is in :mod:`pitot_tf.serving`.

Modules (import the one you need; each pulls in MLflow, some also TensorFlow):

* :mod:`~pitot_tf.tracking.training` -- :func:`run_training`, one tracked training run (used by
  ``pitot-tf train``, the ``train`` entry point and sweeps; search trials use its parts).
* :mod:`~pitot_tf.tracking.evaluation` -- :func:`evaluate_run`, re-evaluate a finished run.
* :mod:`~pitot_tf.tracking.runs` -- :func:`tracked_run`: start or resume a run; any exception
  marks it FAILED with an ``error`` tag (:mod:`~pitot_tf.tracking.outage`: when the tracking
  server or the artifact store fails under it).
* :mod:`~pitot_tf.tracking.experiments` -- experiment ``pitot`` (marked as model training),
  ``mlflow run``'s run continued there, and the terminal's "where is it, how to open it".
* :mod:`~pitot_tf.tracking.run_log` -- params, metrics and artifacts of a run.
* :mod:`~pitot_tf.tracking.names` -- the tag, artifact and logged-model names runs share.
* :mod:`~pitot_tf.tracking.fingerprint` -- data and code fingerprints.
* :mod:`~pitot_tf.tracking.models` -- log the trained Keras model and the ``pyfunc-model``
  (:mod:`pitot_tf.serving`) to a run.
* :mod:`~pitot_tf.tracking.registry` -- register a run's model and point an alias at it.
* :mod:`~pitot_tf.tracking.report` -- the plain-text summary of an evaluation.
* :mod:`~pitot_tf.tracking.steps` and :mod:`~pitot_tf.tracking.workflow` -- the ``data`` and
  ``split`` steps and the ``main`` multistep pipeline of the MLproject
  (:mod:`~pitot_tf.tracking.entry` and :mod:`~pitot_tf.tracking.params`: its entry points'
  glue).

See ``docs/mlflow.md``.
"""

import os as _os

# MLflow draws a progress bar for every artifact download; in logs and tests it is noise.
_os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
