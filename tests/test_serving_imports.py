"""The served model's import chain never reaches TensorFlow or Keras (checked in a fresh
interpreter, as ``mlflow models serve`` would import it)."""

from __future__ import annotations

import subprocess
import sys

#: What loading a Pitot pyfunc imports: the model-from-code file and what it loads with.
SERVING_MODULES = ("pitot_tf.serving.pyfunc_model", "pitot_tf.models.numpy_store",
                   "pitot_tf.serving.mlflow_guard", "mlflow.pyfunc.scoring_server")


def test_the_serving_path_imports_no_tensorflow() -> None:
    code = (f"import sys, {', '.join(SERVING_MODULES)}; print(sorted(m for m in "
            "('tensorflow', 'keras', 'sklearn') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_models_package_imports_keras_only_when_a_builder_is_used() -> None:
    code = ("import sys, pitot_tf.models as m; before = 'keras' in sys.modules; "
            "m.build_model; print(before, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False True"
