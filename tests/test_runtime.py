"""Thread settings for training processes (pitot_tf/training/runtime.py)."""

from __future__ import annotations

import os

import pytest

from pitot_tf.errors import ConfigError
from pitot_tf.training.runtime import THREADS_VARIABLE, requested_threads, worker_environment


def test_workers_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert worker_environment(2)[THREADS_VARIABLE] == "4"
    assert worker_environment(3)[THREADS_VARIABLE] == "2"
    assert worker_environment(16)[THREADS_VARIABLE] == "1"


def test_user_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_VARIABLE, "3")
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert worker_environment(2)[THREADS_VARIABLE] == "3"


def test_environment_is_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    environment = worker_environment(2)
    assert THREADS_VARIABLE not in os.environ
    assert environment["PATH"] == os.environ["PATH"]


@pytest.mark.parametrize("value", ["two", "-1", "1.5"])
def test_a_bad_thread_count_names_the_variable(monkeypatch: pytest.MonkeyPatch,
                                               value: str) -> None:
    monkeypatch.setenv(THREADS_VARIABLE, value)
    with pytest.raises(ConfigError, match=THREADS_VARIABLE):
        requested_threads()
    with pytest.raises(ConfigError, match=THREADS_VARIABLE):
        worker_environment(2)


def test_unset_or_blank_means_every_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_VARIABLE, " ")
    assert requested_threads() == 0
    monkeypatch.delenv(THREADS_VARIABLE)
    assert requested_threads() == 0
