"""A database URL gets a driver that is installed, or one line naming the package to install."""

from __future__ import annotations

import sys

import pytest

from pitot_tf import db_drivers
from pitot_tf.cli import run_args
from pitot_tf.db_drivers import installed_url, is_database_url, prepare_tracking_uri, require_driver
from pitot_tf.errors import ConfigError

SECRET = "Dr1verS3cret"


def only_psycopg2(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if psycopg2 were installed and psycopg 3 not (the ``postgres`` extra)."""
    monkeypatch.setattr(db_drivers.importlib.util, "find_spec",
                        lambda name: None if name == "psycopg" else object())


def test_plain_postgresql_uses_psycopg2_when_psycopg_3_is_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    only_psycopg2(monkeypatch)
    assert installed_url("postgresql://u:p@h/db") == "postgresql+psycopg2://u:p@h/db"
    assert installed_url("postgres://u:p@h/db") == "postgresql+psycopg2://u:p@h/db"
    assert installed_url("postgresql+pg8000://u@h/db") == "postgresql+pg8000://u@h/db"
    assert installed_url("studies/x.journal") == "studies/x.journal"
    assert is_database_url("mysql+pymysql://h/db") and is_database_url("sqlite:///x.db")
    assert not is_database_url("http://127.0.0.1:5000") and not is_database_url("mlruns")


@pytest.mark.parametrize(("url", "module", "package"), [
    (f"postgresql+pg8000://u:{SECRET}@127.0.0.1/db", "pg8000", "pip install pg8000"),
    (f"mysql://root:{SECRET}@127.0.0.1/mlflow", "MySQLdb", "pip install mysqlclient"),
    (f"mysql+pymysql://root@127.0.0.1/db?password={SECRET}", "pymysql", "pip install PyMySQL"),
])
def test_a_missing_driver_is_one_line_naming_the_package(
        monkeypatch: pytest.MonkeyPatch, url: str, module: str, package: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # `import module` fails, installed or not
    with pytest.raises(ConfigError) as raised:
        require_driver(url, "storage")
    message = str(raised.value)
    assert package in message and module in message and "\n" not in message
    assert SECRET not in message and "***" in message


def test_an_installed_driver_passes() -> None:
    require_driver("sqlite:///somewhere/mlflow.db", "tracking URI")


def test_the_tracking_uri_is_pointed_at_psycopg2(monkeypatch: pytest.MonkeyPatch) -> None:
    only_psycopg2(monkeypatch)
    monkeypatch.setattr(db_drivers, "require_driver", lambda url, what: None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://u:p@h/db")
    prepare_tracking_uri()
    assert db_drivers.os.environ["MLFLOW_TRACKING_URI"] == "postgresql+psycopg2://u:p@h/db"


def test_the_command_line_says_what_to_install_for_the_tracking_uri(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "pg8000", None)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"postgresql+pg8000://pitot:{SECRET}@127.0.0.1/x")
    assert run_args(["presets"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [
        "error: tracking URI postgresql+pg8000://pitot:***@127.0.0.1/x needs the Python package "
        "pg8000, which is not installed: pip install pg8000"]
