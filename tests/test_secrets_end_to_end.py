"""A password in the Optuna storage URL and in the MLflow tracking URI appears nowhere: not in
a param, tag, artifact or any other row of either database, not in a file, not in what the
commands print or log (theirs and their worker copies'), not on a child process's command line.

Both stores are PostgreSQL (``$PITOT_TEST_POSTGRES_URL``), each in a schema of its own made for
the test. The server only knows the ``pitot`` role's own password, so the URLs carry it
(``pitot:pitot@``, looked for as ``:pitot@`` and ``password=pitot``) and also a distinctive
``sslpassword`` (a real libpq secret, unused without a client certificate), looked for as is.
The commands run in this process through the CLI's own entry (``run_args``) with
``--workers 2``, so that their copies are real child processes: a search of 2 trials and a
sweep of 2 cells.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import sqlalchemy
from postgres import postgres_url
from search_support import make_data, write_study

from pitot_tf.cli import run_args
from pitot_tf.db_drivers import installed_url

pytestmark = pytest.mark.end_to_end
SSL_SECRET = "SslPw-7f3kQ9zR"
#: What must appear nowhere: the distinctive secret and the forms of the real password.
LEAKS = (SSL_SECRET, ":pitot@", "password=pitot")
FAST = "training.steps=40 training.val_every=20 training.batch=64 training.jit_compile=false"


def with_schema(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` first and carry the ssl secret."""
    joiner = "&" if "?" in url else "?"
    return f"{installed_url(url)}{joiner}options=-csearch_path%3D{schema}&sslpassword={SSL_SECRET}"


@pytest.fixture()
def stores() -> Iterator[tuple[str, str, sqlalchemy.Engine]]:
    """(tracking URI, storage URL, an engine to read both schemas), on fresh schemas."""
    base = postgres_url()
    tag = uuid.uuid4().hex[:10]
    schemas = (f"pitot_secret_mlflow_{tag}", f"pitot_secret_optuna_{tag}")
    engine = sqlalchemy.create_engine(installed_url(base))
    with engine.begin() as connection:
        for schema in schemas:
            connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    try:
        yield with_schema(base, schemas[0]), with_schema(base, schemas[1]), engine
    finally:
        with engine.begin() as connection:
            for schema in schemas:
                connection.execute(sqlalchemy.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


def database_text(engine: sqlalchemy.Engine, schema: str) -> str:
    """Every row of every table in ``schema``, as text."""
    with engine.connect() as connection:
        tables = connection.execute(sqlalchemy.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
            {"s": schema}).scalars().all()
        assert tables, f"nothing was stored in {schema}"
        return "\n".join(str(row[0]) for table in tables for row in connection.execute(
            sqlalchemy.text(f'SELECT t::text FROM {schema}."{table}" t')))


def files_text(root: Path) -> bytes:
    """The bytes of every file below ``root`` (artifacts, journals, anything written)."""
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_no_password_in_params_tags_artifacts_output_databases_or_argv(
        stores: tuple[str, str, sqlalchemy.Engine], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    tracking, storage, engine = stores
    data = make_data(tmp_path / "data")
    study = write_study(tmp_path / "studies", "secret")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    monkeypatch.setenv("PITOT_STORAGE", storage)
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", tracking)
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    argvs: list[list[str]] = []
    real_popen = subprocess.Popen

    def recording_popen(args: Any, *rest: Any, **options: Any) -> Any:
        argvs.append([str(a) for a in (args if isinstance(args, list | tuple) else [args])])
        return real_popen(args, *rest, **options)

    monkeypatch.setattr(subprocess, "Popen", recording_popen)

    assert run_args(["search", "--study", str(study), "--n-trials", "2", "--workers", "2",
                     "--data-dir", str(data)]) == 0
    assert run_args(["sweep", "--presets", "pitot", "--levels", "0.5", "--replicates", "0-1",
                     "--set", FAST, "--data-dir", str(data), "--log-model", "false",
                     "--no-progress", "--workers", "2"]) == 0
    printed = capfd.readouterr()

    mlflow_rows = database_text(engine, tracking.split("%3D")[1].split("&")[0])
    optuna_rows = database_text(engine, storage.split("%3D")[1].split("&")[0])
    written = files_text(tmp_path)
    # the records are really there (a search parent, its trials, a sweep and its cells)
    assert "training.learning_rate" in optuna_rows and "pitot.kind" in mlflow_rows
    assert "pitot:***@" in mlflow_rows  # the search's storage param, redacted
    assert "pitot:***@" in printed.out and '--backend-store-uri "$MLFLOW_TRACKING_URI"' in \
        printed.out
    assert len([a for a in argvs if "search" in a or "sweep" in a]) == 4  # 2 copies each
    for leak in LEAKS:
        assert leak not in printed.out and leak not in printed.err, leak
        assert leak not in mlflow_rows and leak not in optuna_rows, leak
        assert leak.encode() not in written, leak
        assert not [a for a in argvs if any(leak in word for word in a)], leak
