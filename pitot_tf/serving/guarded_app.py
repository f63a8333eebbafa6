"""The ASGI app ``pitot-tf serve`` runs in each worker: MLflow's scoring app for the model
named by the environment (loaded and built as ``mlflow.pyfunc.scoring_server.app`` does,
under ``mlflow models serve``), behind :class:`~pitot_tf.serving.asgi_guard.RequestGuard`
with the limits of ``PITOT_SERVE_*``, which answers ``/invocations`` itself for this
project's model (:mod:`~pitot_tf.serving.direct`) and hands MLflow the rest. What loading
left in memory is frozen out of the garbage collector's reach (``gc.freeze``), so a
collection scans a request's objects, not the model's and its libraries' millions."""

import gc
import os

from mlflow.pyfunc import scoring_server

from pitot_tf.serving.asgi_guard import RequestGuard
from pitot_tf.serving.direct import DirectScorer
from pitot_tf.serving.limits import Limits
from pitot_tf.serving.mlflow_guard import guard_scoring_server

limits = Limits.from_environment()
model = scoring_server.load_model_with_mlflow_config(os.environ[scoring_server._SERVER_MODEL_PATH])
guard_scoring_server(limits, serving=True)
app = RequestGuard(scoring_server.init(model), limits, DirectScorer.of(model))
gc.collect()
gc.freeze()
