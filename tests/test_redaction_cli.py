"""Where the command line meets secrets: ``--storage`` falls back to ``$PITOT_STORAGE``, a
password on the command line is warned about, the printed hints never show a password, and
``--workers`` copies get the storage from the environment, not their argv."""

from __future__ import annotations

import sys
from pathlib import Path

import mlflow
import optuna
import pytest
import typer
from search_support import make_data, write_study
from typer.testing import CliRunner

from pitot_tf.cli.search import Storage
from pitot_tf.db_drivers import STORAGE_VARIABLE
from pitot_tf.errors import ConfigError
from pitot_tf.search.runner import SearchResult, result_text
from pitot_tf.search.studies import load_study
from pitot_tf.tracking.experiments import ui_command, ui_url

SECRET = "Cl1S3cretPw"
URL = f"postgresql://pitot:{SECRET}@127.0.0.1:5432/pitot"


def storage_app() -> typer.Typer:
    """A command with the real ``--storage`` option that prints what it received."""
    app = typer.Typer()

    @app.command()
    def show(storage: Storage = None) -> None:
        typer.echo(f"storage={storage}")

    return app


@pytest.mark.parametrize(("args", "env", "seen"), [
    ([], {}, "None"),
    ([], {"PITOT_STORAGE": URL}, URL),
    (["--storage", "default"], {"PITOT_STORAGE": URL}, URL),
    (["--storage", "default"], {}, "None"),
    (["--storage", "studies/x.journal"], {"PITOT_STORAGE": URL}, "studies/x.journal"),
])
def test_storage_comes_from_the_option_else_the_environment(
        monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], seen: str) -> None:
    monkeypatch.delenv("PITOT_STORAGE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(storage_app(), args)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"storage={seen}\n"
    assert result.stderr == ""  # from the environment: no warning


def test_a_password_on_the_command_line_is_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PITOT_STORAGE", raising=False)
    result = CliRunner().invoke(storage_app(), ["--storage", URL])
    assert result.stdout == f"storage={URL}\n"
    assert "set $PITOT_STORAGE instead" in result.stderr and SECRET not in result.stderr


def test_the_storage_option_names_its_variable() -> None:
    result = CliRunner().invoke(storage_app(), ["--help"], env={"COLUMNS": "200"})
    assert "PITOT_STORAGE" in result.stdout


def test_worker_copies_get_no_storage_on_their_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--workers`` copies read the storage from ``$PITOT_STORAGE``: it is on no argv."""
    from pitot_tf.search import runner

    seen: dict[str, object] = {}

    def spawn(args: list[str], workers: int, env: dict[str, str]) -> list[int]:
        seen.update(args=args, env=env)
        return [0] * workers

    monkeypatch.setattr(runner, "spawn_copies", spawn)
    study, journal = write_study(tmp_path), tmp_path / f"{SECRET}.journal"
    runner.run_search(study, 2, str(journal), workers=2, overrides={"training.steps": 60},
                      data_dir=make_data(tmp_path / "data"), track=False)
    args = seen["args"]
    assert isinstance(args, list) and args[:5] == ["search", "--study", str(study),
                                                   "--n-trials", "2"]
    assert "--storage" not in args and not any(SECRET in a for a in args)
    assert seen["env"] == {runner.PARENT_VARIABLE: "-", STORAGE_VARIABLE: str(journal)}


def test_the_dashboard_hint_reads_the_variable_when_the_storage_has_a_password(
    tmp_path: Path
) -> None:
    spec, study = load_study(write_study(tmp_path)), optuna.create_study()
    result = SearchResult(spec, study, "postgresql://pitot:***@127.0.0.1:5432/pitot", 2)
    assert result_text(result).splitlines()[-1] == (
        'dashboard: pitot-tf dashboard --storage "$PITOT_STORAGE"')
    plain = SearchResult(spec, study, "studies/tiny.journal", 2)
    assert result_text(plain).splitlines()[-1] == (
        "dashboard: pitot-tf dashboard --storage studies/tiny.journal")


@pytest.fixture()
def tracking_uri(monkeypatch: pytest.MonkeyPatch) -> object:
    previous = mlflow.get_tracking_uri()
    yield
    mlflow.set_tracking_uri(previous)


@pytest.mark.usefixtures("tracking_uri")
def test_the_ui_hint_never_prints_the_tracking_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", URL)
    mlflow.set_tracking_uri(URL)
    assert ui_command() == 'mlflow ui --backend-store-uri "$MLFLOW_TRACKING_URI"'
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert ui_command() == ("mlflow ui --backend-store-uri "
                            "'postgresql://pitot:***@127.0.0.1:5432/pitot'")
    server = f"https://mlflow.example/?token={SECRET}"
    mlflow.set_tracking_uri(server)
    for text in (ui_command(), ui_url("1", "abc")):
        assert SECRET not in text and "token=***" in text


def test_the_dashboard_without_its_extra_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pitot_tf.search.dashboard import serve_dashboard

    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)
    with pytest.raises(ConfigError, match=r"pip install 'pitot-tf\[dashboard\]'"):
        serve_dashboard(str(tmp_path / "x.journal"))


def test_params_are_logged_redacted(tmp_path: Path) -> None:
    from mlflow_helpers import private_tracking

    from pitot_tf.tracking.run_log import log_params_to

    with private_tracking(tmp_path, tmp_path):
        client = mlflow.MlflowClient()
        run = client.create_run("0")
        log_params_to(client, run.info.run_id, {"storage": URL, "steps": 60})
        log_params_to(client, run.info.run_id, {"storage": URL})  # the same value: no tag
        logged = client.get_run(run.info.run_id).data
    assert logged.params == {"storage": "postgresql://pitot:***@127.0.0.1:5432/pitot",
                             "steps": "60"}
    assert not [v for v in logged.tags.values() if SECRET in v]
