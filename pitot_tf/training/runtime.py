"""Process-wide TensorFlow settings chosen for small models on few CPU cores.

Measured on the 2-core machine (docs/benchmarks.md): TensorFlow's own kernels (oneDNN off, see
``pitot_tf/__init__.py``) beat oneDNN's on these small ops, and on an otherwise idle machine
using every core is fastest (39 s against 52 s with one thread for 20,000 steps). Where several
workers share a machine, each gets its share of the cores (:func:`worker_environment`).
"""

from __future__ import annotations

import logging
import os

from pitot_tf.errors import ConfigError
from pitot_tf.tensorflow_import import hidden_messages

THREADS_VARIABLE = "PITOT_THREADS"
#: Ops that may run side by side (inter-op): at most this many; every thread goes to the ops
#: themselves (intra-op). Pitot's graph is a chain of small ops with little to run in parallel.
INTER_OP_THREADS = 2
_configured = False
log = logging.getLogger(__name__)


def configure_threads() -> None:
    """Apply the thread settings once per process (``PITOT_THREADS``, default: every core);
    if TensorFlow has already started with other settings, warn (one line) and keep them."""
    global _configured
    if _configured:
        return
    import tensorflow as tf

    requested = requested_threads()
    threads = requested or (os.cpu_count() or 1)
    inter = min(threads, INTER_OP_THREADS)
    threading = tf.config.threading
    try:
        threading.set_intra_op_parallelism_threads(threads)
        threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:
        current = (threading.get_intra_op_parallelism_threads(),
                   threading.get_inter_op_parallelism_threads())
        if requested and current != (threads, inter):
            log.warning("%s=%d is not applied: TensorFlow had already started in this process "
                        "(intra-op %d, inter-op %d threads; 0 = TensorFlow's choice); set it "
                        "before TensorFlow runs its first op", THREADS_VARIABLE, requested,
                        *current)
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


def runtime_info() -> dict[str, object]:
    """What TensorFlow this process runs on: build, devices (with what TensorFlow said about
    them while starting, which pitot_tf hides elsewhere), threads and XLA (``pitot-tf info``).
    Applies the thread settings first, as training would."""
    import importlib.metadata

    import tensorflow as tf

    from pitot_tf.config import Config

    configure_threads()
    build = tf.sysconfig.get_build_info()
    distributions = sorted(name for name in ("tensorflow", "tensorflow-cpu", "tf-nightly")
                           if _installed(importlib.metadata, name))
    return {
        "tensorflow": tf.__version__,
        "distributions": distributions,
        "cuda_build": bool(build.get("is_cuda_build", False)),
        "cuda_version": build.get("cuda_version"),
        "cudnn_version": build.get("cudnn_version"),
        "devices": [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()],
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "startup_notes": hidden_messages(),
        "threads_variable": os.environ.get(THREADS_VARIABLE, ""),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "cpu_count": os.cpu_count(),
        "xla_jit_compile": Config().training.jit_compile,
        "tf_xla_flags": os.environ.get("TF_XLA_FLAGS", ""),
    }


def _installed(metadata: object, name: str) -> bool:
    try:
        metadata.version(name)  # type: ignore[attr-defined]
    except Exception:  # PackageNotFoundError
        return False
    return True
