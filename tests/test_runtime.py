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


def test_a_setting_tensorflow_cannot_take_any_more_is_reported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Once TensorFlow has run an op its thread pools are fixed: say so in one line naming
    the variable, rather than ignoring it silently."""
    import tensorflow as tf

    from pitot_tf.training import runtime

    tf.constant(1.0) + 1.0  # TensorFlow starts
    wanted = tf.config.threading.get_intra_op_parallelism_threads() + 3
    monkeypatch.setenv(THREADS_VARIABLE, str(wanted))
    monkeypatch.setattr(runtime, "_configured", False)
    with caplog.at_level("WARNING", logger=runtime.__name__):
        runtime.configure_threads()
    [record] = caplog.records
    assert f"{THREADS_VARIABLE}={wanted} is not applied" in record.getMessage()
    assert "\n" not in record.getMessage()
