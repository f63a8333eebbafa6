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

RAW_VARIABLE = "PITOT_TF_RAW_STDERR"

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
    if ("tensorflow" in sys.modules or os.environ.get(RAW_VARIABLE, "0").strip() not in ("", "0")
            or any(isinstance(finder, _TensorFlowFinder) for finder in sys.meta_path)):
        return
    sys.meta_path.insert(0, _TensorFlowFinder())


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


class _FilteringLoader(importlib.abc.Loader):
    """Runs the real loader, then finds the devices, inside :func:`filtered_stderr`; leaves the
    real loader on the module so that nothing else sees this one."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with filtered_stderr():
            try:
                self.loader.exec_module(module)
            finally:
                module.__loader__ = self.loader
                if module.__spec__ is not None:
                    module.__spec__.loader = self.loader
            # Only to have the CUDA build say "no GPU" here; should it fail, the next
            # enumeration (by the caller, outside this filter) fails the same way, visibly.
            with contextlib.suppress(Exception):
                module.config.list_physical_devices()


def _flush_stderr() -> None:
    if sys.stderr is not None:
        with contextlib.suppress(Exception):
            sys.stderr.flush()


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]
