"""Process-wide TensorFlow settings chosen for small models on few CPU cores.

Measured on the 2-core machine (docs/benchmarks.md): TensorFlow's own kernels (oneDNN off, see
``pitot_tf/__init__.py``) beat oneDNN's on these small ops, and on an otherwise idle machine
using every core is fastest (39 s against 52 s with one thread for 20,000 steps). Where several
workers share a machine, each gets its share of the cores (:func:`worker_environment`).
"""

from __future__ import annotations

import os

from pitot_tf.errors import ConfigError

THREADS_VARIABLE = "PITOT_THREADS"
_configured = False


def configure_threads() -> None:
    """Apply the thread settings once per process (``PITOT_THREADS``, default: every core)."""
    global _configured
    if _configured:
        return
    import tensorflow as tf

    threads = requested_threads() or (os.cpu_count() or 1)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # TensorFlow already started by the caller; keep their settings
    _configured = True


def requested_threads() -> int:
    """``PITOT_THREADS`` as a number of threads (0 when unset: use every core); a value that is
    not a whole number >= 0 is a ConfigError naming the variable."""
    text = os.environ.get(THREADS_VARIABLE, "").strip() or "0"
    if not text.isdigit():
        raise ConfigError(f"{THREADS_VARIABLE}={text!r}: expected a whole number of threads "
                          "(0 or unset: every core)")
    return int(text)


def worker_environment(workers: int) -> dict[str, str]:
    """The environment for one of ``workers`` training processes on this machine: unless the
    user set ``PITOT_THREADS``, each gets an equal share of the cores (at least one), so that
    K workers do not fight over every core."""
    environment = dict(os.environ)
    if not requested_threads():
        environment[THREADS_VARIABLE] = str(max(1, (os.cpu_count() or 1) // max(1, workers)))
    return environment
