"""Process-wide TensorFlow settings chosen for small models on few CPU cores.

Measured on the 2-core machine (docs/benchmarks.md): the graph is a chain of small ops, so
one thread per op and TensorFlow's own kernels (oneDNN off, see ``pitot_tf/__init__.py``) beat
both multi-threading and XLA by about 1.5x. ``PITOT_THREADS`` overrides the thread count.
"""

from __future__ import annotations

import os

_configured = False


def configure_threads() -> None:
    """Apply the thread settings once per process (``PITOT_THREADS`` intra-op threads)."""
    global _configured
    if _configured:
        return
    import tensorflow as tf

    threads = int(os.environ.get("PITOT_THREADS", "1"))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # TensorFlow already started by the caller; keep their settings
    _configured = True
