"""Fewer malloc arenas for a process that runs TensorFlow: less resident memory, same speed.

glibc's malloc gives threads that allocate at the same time arenas of their own (up to 8 per
core), and memory freed into one arena is not reused by another. TensorFlow's thread pools
and XLA's compiler allocate from several threads, so a training run keeps several arenas'
worth of freed memory resident: about 13 MiB of a ``pitot`` run's peak on 2 cores
(docs/benchmarks.md, "Memory"). :func:`limit_malloc_arenas` caps the arenas at
:data:`DEFAULT_ARENAS` (``PITOT_MALLOC_ARENAS`` chooses; ``0`` leaves glibc's default) before
TensorFlow starts its threads; pitot-tf calls it when TensorFlow or Keras is first imported
(:mod:`pitot_tf.tensorflow_import`). ``MALLOC_ARENA_MAX``, when set, is glibc's own setting
and wins. Elsewhere than glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

from pitot_tf.errors import ConfigError

ARENAS_VARIABLE = "PITOT_MALLOC_ARENAS"
#: The arena cap: no slower per training step than glibc's default on 2 cores
#: (docs/benchmarks.md, "Memory").
DEFAULT_ARENAS = 2
#: glibc's ``mallopt`` parameter number of ``M_ARENA_MAX`` (malloc.h).
M_ARENA_MAX = -8


def requested_arenas() -> int:
    """``PITOT_MALLOC_ARENAS`` as a number (unset: :data:`DEFAULT_ARENAS`; 0: glibc's own
    default); a value that is not a whole number >= 0 is a ConfigError naming the variable."""
    text = os.environ.get(ARENAS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_ARENAS
    if not text.isdigit():
        raise ConfigError(f"{ARENAS_VARIABLE}={text!r}: expected a whole number of malloc "
                          "arenas (0: the C library's default)")
    return int(text)


def limit_malloc_arenas() -> bool:
    """Cap glibc's malloc arenas at :func:`requested_arenas` unless ``MALLOC_ARENA_MAX`` is
    set or the cap is 0; True when the cap was applied."""
    arenas = requested_arenas()
    if not arenas or os.environ.get("MALLOC_ARENA_MAX", "").strip():
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):  # no C library by that name, or no mallopt
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
