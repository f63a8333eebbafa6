"""pitot-tf: interference-aware runtime prediction with conformal bounds (Pitot) on Keras 3."""

import os as _os

# Read by TensorFlow at import, so set before anything imports it. Measured on 2 cores
# (docs/benchmarks.md): TensorFlow's own kernels beat oneDNN's for these small ops.
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
