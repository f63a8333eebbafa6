"""Serve a ``pyfunc-model`` with MLflow's scoring app, and TCP_NODELAY in every worker.

``mlflow models serve -w N`` runs ``uvicorn --workers N mlflow.pyfunc.scoring_server.app:app``.
With more than one worker, uvicorn (0.54 and earlier) binds the listening socket itself with
``socket.socket(family)``, whose ``proto`` is 0, and hands it to its workers; asyncio sets
TCP_NODELAY only on accepted sockets whose ``proto`` is ``IPPROTO_TCP``, so every answer on a
keep-alive connection waits for Nagle's algorithm and the client's delayed ACK: about 40 ms
per request, ten times the server's own work (uvicorn issue #3149; kserve #6050 met the same).

:func:`serve` runs the same app (MLflow's ``scoring_server.app:app``, the model path in the
environment variable MLflow's own ``get_cmd`` sets, ``MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT``
honoured), behind :class:`~pitot_tf.serving.asgi_guard.RequestGuard` (body size, content
type, JSON nesting and concurrent requests bounded before MLflow reads a byte; limits from
``PITOT_SERVE_*``, checked here before any worker starts), under uvicorn's own worker
supervisor, but listens on a socket whose ``proto`` is ``IPPROTO_TCP`` (:class:`TcpConfig`),
so every worker's accepted connections get TCP_NODELAY.
uvicorn's ``UVICORN_*`` environment variables apply as they do under ``mlflow models serve``;
the access log is off unless ``UVICORN_ACCESS_LOG=true``. uvicorn parses HTTP with httptools
and runs uvloop's event loop where they are installed (``uvicorn[standard]``, a dependency).
Each worker answers ``/invocations`` itself for this project's model
(:mod:`~pitot_tf.serving.direct`; :mod:`~pitot_tf.serving.guarded_app`).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from pitot_tf.errors import PitotError
from pitot_tf.serving.limits import Limits

#: MLflow's scoring app behind the request guard (:mod:`~pitot_tf.serving.guarded_app`).
SCORING_APP = "pitot_tf.serving.guarded_app:app"


class ServingError(PitotError):
    """A model that cannot be found or served; one line naming it."""


class TcpConfig(uvicorn.Config):
    """uvicorn's configuration, whose bound socket says it is TCP (``proto=IPPROTO_TCP``)."""

    def bind_socket(self) -> socket.socket:
        return tcp_socket(super().bind_socket())


def tcp_socket(sock: socket.socket) -> socket.socket:
    """``sock`` re-wrapped (same file descriptor) with ``proto=IPPROTO_TCP`` if it is an
    internet stream socket created with ``proto=0``; asyncio then sets TCP_NODELAY on every
    connection it accepts from it (sockets from ``accept`` inherit ``proto``)."""
    internet = sock.family in (socket.AF_INET, socket.AF_INET6)
    if not internet or sock.type != socket.SOCK_STREAM or sock.proto == socket.IPPROTO_TCP:
        return sock
    tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    tcp.set_inheritable(True)  # as uvicorn leaves it: workers inherit the listener
    return tcp


def local_model(model_uri: str) -> str:
    """A local folder holding the model: a path as given, a ``runs:/``, ``models:/`` or other
    artifact URI downloaded first (as ``mlflow models serve`` does)."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    if Path(model_uri).is_dir():
        return str(Path(model_uri).resolve())
    try:
        return str(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
    except (MlflowException, OSError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise ServingError(f"{model_uri}: cannot fetch the model: {first_line}") from None


def scoring_environment(model_path: str, timeout: int | None = None) -> dict[str, str]:
    """The variables MLflow's scoring app reads (the model path, the request timeout), set
    by MLflow's own ``get_cmd``: ``timeout`` or ``MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT``."""
    from mlflow.pyfunc.scoring_server import get_cmd

    _, environment = get_cmd(model_path, timeout=timeout)
    return {key: value for key, value in environment.items() if os.environ.get(key) != value}


def uvicorn_config(host: str, port: int, workers: int) -> TcpConfig:
    """The scoring app's configuration: ``host``, ``port`` and ``workers`` as given, every
    other setting from the ``UVICORN_*`` environment as the ``uvicorn`` command reads it,
    except that the access log is off unless ``UVICORN_ACCESS_LOG`` says otherwise."""
    command = sys.modules["uvicorn.main"].main  # the click command (``uvicorn.main`` is shadowed)
    arguments = [SCORING_APP, "--host", host, "--port", str(port), "--workers", str(workers)]
    with command.make_context("uvicorn", arguments) as context:
        settings: dict[str, Any] = dict(context.params)
    unsupported = [name for name in ("reload", "uds", "fd") if settings[name]]
    if unsupported:
        raise ServingError(f"UVICORN_{unsupported[0].upper()} is not supported by pitot-tf serve")
    settings.pop("app_dir")
    for name in ("reload_dirs", "reload_includes", "reload_excludes"):
        settings[name] = settings[name] or None
    if settings["log_config"] is None:
        settings["log_config"] = uvicorn.config.LOGGING_CONFIG
    settings["headers"] = [header.split(":", 1) for header in settings["headers"]]
    if "UVICORN_ACCESS_LOG" not in os.environ:
        settings["access_log"] = False  # a line per request costs more than a short answer
    return TcpConfig(**settings)


def serve(model_uri: str, host: str = "127.0.0.1", port: int = 5001, workers: int = 1,
          timeout: int | None = None) -> None:
    """Serve ``model_uri`` at ``http://host:port/invocations`` until SIGINT or SIGTERM, with
    ``workers`` processes (each loads the model; about one per free core)."""
    if workers < 1:
        raise ServingError(f"--workers must be at least 1, got {workers}")
    Limits.from_environment()  # a bad PITOT_SERVE_* value: one line now, not in each worker
    os.environ.update(scoring_environment(local_model(model_uri), timeout))
    config = uvicorn_config(host, port, workers)
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)  # binds with getaddrinfo's proto (TCP): no Nagle delay
    server.run()
    if not server.started:
        raise ServingError(f"{model_uri}: the scoring server did not start (see the log above)")
