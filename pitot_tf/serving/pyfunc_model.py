"""The ``pyfunc-model`` as MLflow "model from code": MLflow runs this file when loading the
model, instead of unpickling an object (see :mod:`pitot_tf.serving.pyfunc` for the model)."""

from mlflow.models import set_model

from pitot_tf.serving.pyfunc import PitotRuntimeModel

set_model(PitotRuntimeModel())
