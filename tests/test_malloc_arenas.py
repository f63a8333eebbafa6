"""The malloc arena cap applied before TensorFlow starts (pitot_tf/malloc_arenas.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pitot_tf import malloc_arenas
from pitot_tf.errors import ConfigError
from pitot_tf.malloc_arenas import (
    ARENAS_VARIABLE,
    DEFAULT_ARENAS,
    limit_malloc_arenas,
    requested_arenas,
)

REPO = Path(__file__).resolve().parents[1]


def test_the_variable_is_read_strictly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ARENAS_VARIABLE, raising=False)
    assert requested_arenas() == DEFAULT_ARENAS
    monkeypatch.setenv(ARENAS_VARIABLE, " 4 ")
    assert requested_arenas() == 4
    monkeypatch.setenv(ARENAS_VARIABLE, "0")
    assert requested_arenas() == 0
    for bad in ("two", "-1", "1.5"):
        monkeypatch.setenv(ARENAS_VARIABLE, bad)
        with pytest.raises(ConfigError, match=ARENAS_VARIABLE):
            requested_arenas()


def test_zero_or_glibcs_own_variable_leave_malloc_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []

    class FakeLibrary:
        def mallopt(self, parameter: int, value: int) -> int:
            calls.append((parameter, value))
            return 1

    monkeypatch.setattr(malloc_arenas.ctypes, "CDLL", lambda name: FakeLibrary())
    monkeypatch.setenv(ARENAS_VARIABLE, "0")
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert not limit_malloc_arenas()
    monkeypatch.setenv(ARENAS_VARIABLE, "3")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert not limit_malloc_arenas()
    assert calls == []
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert limit_malloc_arenas()
    assert calls == [(malloc_arenas.M_ARENA_MAX, 3)]


def test_without_a_c_library_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> object:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(malloc_arenas.ctypes, "CDLL", missing)
    monkeypatch.delenv(ARENAS_VARIABLE, raising=False)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert not limit_malloc_arenas()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_first_keras_import_caps_the_arenas() -> None:
    """In a fresh process, importing Keras through pitot_tf calls mallopt with the cap."""
    script = (
        "import pitot_tf, pitot_tf.malloc_arenas as m\n"
        "applied = []\n"
        "real = m.limit_malloc_arenas\n"
        "m_apply = lambda: applied.append(real()) or applied[-1]\n"
        "import pitot_tf.tensorflow_import as t\n"
        "t.limit_malloc_arenas = m_apply\n"
        "import keras\n"
        "print(applied)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, check=True, cwd=REPO)
    assert done.stdout.strip().splitlines()[-1] == "[True]"
