"""Start TensorFlow without the CUDA build's "no GPU here" lines on standard error.

The one ``tensorflow`` wheel serves CPU and GPU machines. On a machine without a GPU it writes
lines such as ``Could not find cuda drivers on your machine, GPU will not be used.`` when it is
imported and ``failed call to cuInit: ...`` when it first looks for devices, from C++ before
absl logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` does not hide them. They would break every
one-line error message of the CLI. So the first import of TensorFlow, whichever module asks
for it (``import keras`` does), runs with file descriptor 2 redirected to a temporary file and
looks for devices once while still redirected; then every captured line is written back to
standard error except the known harmless ones (:data:`HARMLESS_LINES`, matched by message
text). Nothing else is dropped, and descriptor 2 is restored even when the import fails. What
was dropped is kept in :data:`hidden_lines`: ``pitot-tf info`` shows it when it finds no GPU,
so that a GPU machine whose driver TensorFlow cannot use still says why.

The same first import runs with :data:`KERAS_EXTRAS` (scikit-learn, matplotlib) hidden, which
``tf.keras`` would otherwise load for optional features pitot-tf never uses: a run starts about
1.5 CPU s faster and 80 MiB smaller; ``PITOT_TF_KERAS_EXTRAS=1`` lets it load them. Just
before it, malloc's arenas are capped (:mod:`pitot_tf.malloc_arenas`).

:func:`install_import_hook` (called by ``pitot_tf/__init__.py``) costs nothing until TensorFlow
is imported and nothing at all when it is already imported. ``PITOT_TF_RAW_STDERR=1`` turns
the filter off: a TensorFlow that aborts while starting (for example on a CPU without the
instructions it was built for) takes the captured lines with it, and this shows them.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType

from pitot_tf.malloc_arenas import limit_malloc_arenas

RAW_VARIABLE = "PITOT_TF_RAW_STDERR"
#: Set (not ``0``) to let TensorFlow's import load :data:`KERAS_EXTRAS` as it would by itself.
EXTRAS_VARIABLE = "PITOT_TF_KERAS_EXTRAS"
#: Libraries that ``import tensorflow`` loads only because Keras (imported by TensorFlow as
#: ``tf.keras``) offers optional features with them when they are installed: scikit-learn
#: wrappers and matplotlib image galleries, which pitot-tf never uses. Measured on 2 cores
#: (docs/benchmarks.md, "Memory"), they are about 1.5 CPU s and 80 MiB of the import's 5 s
#: and 700 MiB, paid by every training run. The first import of TensorFlow runs with them
#: hidden (Keras then leaves those features out of this process); afterwards they import as
#: usual for whoever asks (pitot-tf fits its trees with scikit-learn, plots with matplotlib).
KERAS_EXTRAS = ("sklearn", "matplotlib")

#: Written once before the first C++ log line of a process that has not set up absl logging.
ABSL_BANNER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR")
#: What the CUDA build of TensorFlow writes at start-up on a machine without a usable GPU, and
#: nothing else. Each pattern matches one whole line (without its line break).
HARMLESS_LINES: tuple[re.Pattern[str], ...] = (ABSL_BANNER, *(re.compile(pattern) for pattern in (
    r".*\] Could not find cuda drivers on your machine, GPU will not be used\.",
    r".*\] failed call to cuInit: .*",
    r".*\] Unable to register (cuDNN|cuFFT|cuBLAS) factory: Attempting to register factory "
    r"for plugin \1 when one has already been registered",
)))


#: The lines :func:`filtered_stderr` has dropped in this process, in order.
hidden_lines: list[str] = []


def is_harmless(line: str) -> bool:
    """Whether ``line`` is one of :data:`HARMLESS_LINES`."""
    return any(pattern.fullmatch(line) for pattern in HARMLESS_LINES)


def hidden_messages() -> list[str]:
    """The messages of :data:`hidden_lines` without their log prefix or the absl banner, each
    once (``pitot-tf info``: why TensorFlow found no GPU)."""
    messages = [line.split("] ", 1)[-1] for line in hidden_lines
                if not ABSL_BANNER.fullmatch(line)]
    return list(dict.fromkeys(messages))


def split_lines(captured: bytes,
                drop: Callable[[str], bool] = is_harmless) -> tuple[bytes, list[str]]:
    """``captured`` less the lines that ``drop`` accepts (every other byte as it was), and
    those lines as text."""
    kept, dropped = [], []
    for line in captured.splitlines(keepends=True):
        text = line.rstrip(b"\r\n").decode("utf-8", "replace")
        if drop(text):
            dropped.append(text)
        else:
            kept.append(line)
    return b"".join(kept), dropped


@contextlib.contextmanager
def filtered_stderr(drop: Callable[[str], bool] = is_harmless) -> Iterator[None]:
    """Capture what this process writes to file descriptor 2 (C++ and Python alike) inside
    the block; afterwards restore descriptor 2, write back every line ``drop`` rejects and
    add the others to :data:`hidden_lines`. Without a descriptor 2 to capture, run the block
    as it is."""
    _flush_stderr()
    try:
        saved = os.dup(2)
    except OSError:
        saved = -1
    if saved < 0:
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept, dropped = split_lines(capture.read(), drop)
            _write_all(2, kept)
            hidden_lines.extend(dropped)


def install_import_hook() -> None:
    """Make the first ``import tensorflow`` of this process (from any module) import it and
    find its devices inside :func:`filtered_stderr`. No-op when TensorFlow is already
    imported, the hook is already installed, or ``PITOT_TF_RAW_STDERR`` is set (not ``0``)."""
    if not any(isinstance(finder, _ExtrasFinder) for finder in sys.meta_path) and not (
            "keras" in sys.modules or "tensorflow" in sys.modules):
        sys.meta_path.insert(0, _ExtrasFinder())
    if ("tensorflow" in sys.modules or os.environ.get(RAW_VARIABLE, "0").strip() not in ("", "0")
            or any(isinstance(finder, _TensorFlowFinder) for finder in sys.meta_path)):
        return
    sys.meta_path.insert(0, _TensorFlowFinder())


class _ExtrasFinder(importlib.abc.MetaPathFinder):
    """Finds the first of ``keras`` and ``tensorflow`` to be imported (each imports the
    other) as the other finders would, once, and has it import with :data:`KERAS_EXTRAS`
    hidden."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in ("keras", "tensorflow"):
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _HidingLoader(spec.loader)
        return spec


class _TensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the other finders would, once, and wraps its loader."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # one import only; from here on the usual finders
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteringLoader(spec.loader)
        return spec


class _WrappingLoader(importlib.abc.Loader):
    """Runs the wrapped loader; leaves the real (innermost) loader on the module so that
    nothing else sees a wrapper."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def run(self, module: ModuleType) -> None:
        real = self.loader
        while isinstance(real, _WrappingLoader):
            real = real.loader
        try:
            self.loader.exec_module(module)
        finally:
            module.__loader__ = real
            if module.__spec__ is not None:
                module.__spec__.loader = real


class _HidingLoader(_WrappingLoader):
    """Runs the real loader with :data:`KERAS_EXTRAS` hidden (:func:`_extras_to_hide`), after
    capping malloc's arenas (:func:`~pitot_tf.malloc_arenas.limit_malloc_arenas`) before
    TensorFlow starts its threads."""

    def exec_module(self, module: ModuleType) -> None:
        limit_malloc_arenas()
        with _hidden(_extras_to_hide()):
            self.run(module)


class _FilteringLoader(_WrappingLoader):
    """Runs the real loader, then finds the devices, inside :func:`filtered_stderr`."""

    def exec_module(self, module: ModuleType) -> None:
        with filtered_stderr():
            self.run(module)
            # Only to have the CUDA build say "no GPU" here; should it fail, the next
            # enumeration (by the caller, outside this filter) fails the same way, visibly.
            with contextlib.suppress(Exception):
                module.config.list_physical_devices()


def _extras_to_hide() -> tuple[str, ...]:
    """The :data:`KERAS_EXTRAS` not yet imported, unless ``PITOT_TF_KERAS_EXTRAS`` is set."""
    if os.environ.get(EXTRAS_VARIABLE, "0").strip() not in ("", "0"):
        return ()
    return tuple(name for name in KERAS_EXTRAS if name not in sys.modules)


@contextlib.contextmanager
def _hidden(names: Sequence[str]) -> Iterator[None]:
    """Inside the block, ``import NAME`` raises ImportError for each of ``names`` (a
    ``None`` entry in ``sys.modules``); afterwards they import as usual again."""
    for name in names:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in names:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def _flush_stderr() -> None:
    if sys.stderr is not None:
        with contextlib.suppress(Exception):
            sys.stderr.flush()


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]
