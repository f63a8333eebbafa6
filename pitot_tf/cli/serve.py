"""``pitot-tf serve``: a ``pyfunc-model`` served as MLflow's scoring server serves it, faster."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import ModelUri

Host = Annotated[str, typer.Option("--host", "-h", help="Address to listen on (loopback).")]
Port = Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")]
Workers = Annotated[int, typer.Option("--workers", "-w", help="Worker processes (about one "
                                      "per free core; each loads the model).")]
Timeout = Annotated[
    Optional[int],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option("--timeout", "-t", show_default=False,
                 help="Seconds before a request is answered 504 (default: "
                      "$MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT, else 60)."),
]


@app.command("serve")
def serve(model_uri: ModelUri, host: Host = "127.0.0.1", port: Port = 5001, workers: Workers = 1,
          timeout: Timeout = None) -> None:
    """Serve --model-uri (runs:/<id>/pyfunc-model, models:/<name>@<alias> or a folder) at
    http://HOST:PORT/invocations with the answers of `mlflow models serve --env-manager
    local`, several times faster: requests are read straight into columns and answered
    without pandas (other request forms go to MLflow's handler), TCP_NODELAY is on for every
    worker's connections (no ~40 ms Nagle delay per answer with --workers > 1), and every
    request is bounded before it is read (body size, rows, co-runners, names, JSON nesting,
    concurrent requests: PITOT_SERVE_* variables, see docs/reliability.md). UVICORN_*
    variables apply; the access log is off unless UVICORN_ACCESS_LOG=true."""
    from pitot_tf.serving.scoring import serve as run_server

    run_server(model_uri, host=host, port=port, workers=workers, timeout=timeout)
