"""The served product: a logged ``pyfunc-model`` that answers runtime and bound queries by name.

Modules (import the one you need; each pulls in MLflow, only ``keras_predictor`` TensorFlow:
loading and serving a Pitot model's pyfunc never imports it):

* :mod:`~pitot_tf.serving.pyfunc` -- :class:`PitotRuntimeModel`, the pyfunc itself: the
  request table in, predicted runtimes and conformal upper bounds in seconds out; and the
  artifacts and calibration JSON it loads from.
* :mod:`~pitot_tf.serving.pyfunc_model` -- the file MLflow runs to load it ("model from
  code"; :mod:`pitot_tf.tracking.models` logs it with every trained model).
* :mod:`~pitot_tf.serving.request_parsing` -- a request, read by column, checked and turned
  into index arrays, or one line naming the row, field and value at fault (HTTP 400 when
  served).
* :mod:`~pitot_tf.serving.answer` -- the answer's columns, as a table, records or lists.
* :mod:`~pitot_tf.serving.frames` -- tables built and read by column array, cheaply.
* :mod:`~pitot_tf.serving.direct` -- ``/invocations`` without pandas or MLflow's handler: the
  JSON body straight into columns, the answer straight to JSON (orjson), for the request
  forms it reads exactly as MLflow does.
* :mod:`~pitot_tf.serving.predictor` -- the log runtimes behind an answer: numpy tables for
  Pitot (stored when the model was logged), else the Keras model.
* :mod:`~pitot_tf.serving.keras_predictor` -- the Keras side: the numpy tables computed and
  checked against the Keras model (at logging time), or the Keras model served as is.
* :mod:`~pitot_tf.serving.margins` -- conformal margins per objective degree and alpha,
  computed once and looked up.
* :mod:`~pitot_tf.serving.batching` -- rows predicted grouped by co-runner count, in bounded
  chunks (memory linear in the co-runners sent).
* :mod:`~pitot_tf.serving.limits` -- every bound a request is held to (``PITOT_SERVE_*``).
* :mod:`~pitot_tf.serving.body_checks` -- a body's size, content type and JSON nesting,
  judged on bytes before anything parses them.
* :mod:`~pitot_tf.serving.asgi_guard` and :mod:`~pitot_tf.serving.guarded_app` -- the ASGI
  layer of ``pitot-tf serve`` that applies those checks before MLflow reads the body.
* :mod:`~pitot_tf.serving.mlflow_guard` -- the same checks inside ``mlflow models serve``,
  installed by the model as it loads there, and one-line errors from MLflow's parsing.
* :mod:`~pitot_tf.serving.scoring` -- ``pitot-tf serve``: MLflow's scoring app under uvicorn's
  worker supervisor, with TCP_NODELAY in every worker and ``/invocations`` answered directly.

Training and logging the model live in :mod:`pitot_tf.tracking`; this package only reads
what a run logged. See ``docs/mlflow.md``.
"""

import os as _os

# MLflow draws a progress bar for every artifact download (a served model's, here); in logs
# and tests it is noise.
_os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
