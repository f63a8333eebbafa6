"""pitot-tf: interference-aware runtime prediction with conformal bounds (Pitot) on Keras 3."""

import os as _os

from pitot_tf.tensorflow_import import install_import_hook as _install_import_hook

# Read by TensorFlow at import, so set before anything imports it. Measured on 2 cores
# (docs/benchmarks.md): TensorFlow's own kernels beat oneDNN's for these small ops.
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The CUDA build's "no GPU here" start-up lines would break one-line errors: filter them.
_install_import_hook()

__version__ = "0.1.0"
