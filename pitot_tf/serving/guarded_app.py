"""The ASGI app ``pitot-tf serve`` runs in each worker: MLflow's scoring app (which loads the
model named by the environment, as under ``mlflow models serve``) behind
:class:`~pitot_tf.serving.asgi_guard.RequestGuard`, with the limits of ``PITOT_SERVE_*``."""

from mlflow.pyfunc.scoring_server.app import app as scoring_app

from pitot_tf.serving.asgi_guard import RequestGuard
from pitot_tf.serving.limits import Limits

app = RequestGuard(scoring_app, Limits.from_environment())
