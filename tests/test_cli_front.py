"""One front end: the MLproject's entry points are ``pitot-tf`` commands with the same
option spellings, and both front ends report errors and fail MLflow runs the same way."""

from __future__ import annotations

import re
import shlex
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import typer
import yaml
from mlflow_helpers import experiment, private_tracking
from typer.core import TyperGroup

from pitot_tf.cli import run_command
from pitot_tf.cli.app import app, register_commands
from pitot_tf.cli.common import (
    items,
    levels_of,
    not_default,
    overrides_of,
    pairs,
    replicates_of,
)
from pitot_tf.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SHIM_CALL = re.compile(r'run_command\("([^"]+)", sys\.argv\[1:\]\)')


def project() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "MLproject").read_text())["entry_points"])


def shim_command(entry: str) -> str:
    """The ``pitot-tf`` command that ``entrypoints/<entry>.py`` runs."""
    found = SHIM_CALL.search((REPO / "entrypoints" / f"{entry}.py").read_text())
    assert found, entry
    return found.group(1)


def click_command(path: str) -> Any:
    register_commands()
    command = typer.main.get_command(app)
    for name in path.split():
        assert isinstance(command, TyperGroup), path
        command = command.commands[name]
    return command


def test_list_options_take_commas_and_repeats_alike() -> None:
    assert items(["0.1,0.5", "0.9"]) == ["0.1", "0.5", "0.9"]
    assert levels_of(["0.1,0.5"]) == levels_of(["0.1", "0.5"]) == [0.1, 0.5]
    assert levels_of(None) is None
    assert replicates_of(["0-2", "1,4"]) == [0, 1, 2, 4]
    with pytest.raises(ConfigError, match="--levels must be numbers"):
        levels_of(["0.1,half"])
    with pytest.raises(ConfigError, match="range '3-1' is empty"):
        replicates_of(["3-1"])
    with pytest.raises(ConfigError, match="'x' is not a number or a range"):
        replicates_of(["x"])


def test_set_splits_space_separated_pairs_and_keeps_list_values_whole() -> None:
    assert pairs(["model.mf_dim=64 training.steps=100"]) == pairs(
        ["model.mf_dim=64", "training.steps=100"]) == ["model.mf_dim=64", "training.steps=100"]
    assert pairs(["model.layers=[64, 64] seed=3"]) == ["model.layers=[64, 64]", "seed=3"]
    assert pairs([""]) == [] and pairs(None) == []  # -P set= (the default): no overrides
    assert overrides_of(["model.layers=[16] training.steps=5"]) == {
        "model.layers": [16], "training.steps": 5}


def test_the_default_word_means_left_out() -> None:
    assert not_default(Path("default")) is None and not_default("default") is None
    assert not_default(["default"]) is None
    assert not_default(Path("./data")) == Path("./data") and not_default(None) is None
    assert not_default(["0.1", "default"]) == ["0.1", "default"]


@pytest.mark.parametrize("entry", sorted(project()))
def test_every_mlproject_parameter_is_the_option_of_the_same_name(entry: str) -> None:
    """Each parameter ``a_b`` is passed as ``--a-b {a_b}`` to a shim of a ``pitot-tf``
    command that has that option, and the command parses the defaults (no parameter typed
    ``float`` where the option wants an integer, no spelling of its own)."""
    spec = project()[entry]
    words = shlex.split(spec["command"])
    assert words[:2] == ["python", f"entrypoints/{entry}.py"]
    command = click_command(shim_command(entry))
    hints = typing.get_type_hints(command.callback)
    options = {o: hints[p.name] for p in command.params for o in p.opts}
    for name, param in spec["parameters"].items():
        flag = f"--{name.replace('_', '-')}"
        assert f"{flag} {{{name}}}" in spec["command"], (entry, name)
        assert flag in options, (entry, flag)
        kind = param if isinstance(param, str) else param.get("type", "string")
        if options[flag] in (int, float):
            assert kind == options[flag].__name__, (entry, name, kind)
        else:
            assert kind in ("string", "path"), (entry, name, kind)
    defaults = {name: str(p.get("default", "x")) for name, p in spec["parameters"].items()
                if isinstance(p, dict)}
    args = shlex.split(spec["command"].format(**{
        name: shlex.quote(defaults.get(name, "README.md")) for name in spec["parameters"]}))[2:]
    with command.make_context(shim_command(entry), args, resilient_parsing=False) as ctx:
        assert not ctx.args, (entry, ctx.args)


def test_entry_point_shims_are_small() -> None:
    shims = sorted((REPO / "entrypoints").glob("*.py"))
    assert {p.stem for p in shims} == set(project())
    assert sum(len(p.read_text().splitlines()) for p in shims) <= 120


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("front")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        yield experiment("front", root)


@pytest.fixture()
def tracked(store: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A RUNNING run, as ``mlflow run`` starts one before the entry point's command."""
    run = mlflow.MlflowClient().create_run(store)
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    return str(run.info.run_id)


def test_a_user_error_is_one_line_exit_1_and_fails_the_project_run(
    tracked: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command("search", ["--n-trials", "2"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: name the study to run with --study (`pitot-tf search list`)"
    run = mlflow.MlflowClient().get_run(tracked)
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == err.removeprefix("error: ")


def test_a_bad_option_value_exits_2_and_fails_the_project_run(
    tracked: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command("train", ["--level", "half"]) == 2
    assert "Invalid value for '--level'" in capsys.readouterr().err
    run = mlflow.MlflowClient().get_run(tracked)
    assert run.info.status == "FAILED"
    assert run.data.tags["error"].startswith("Invalid value for '--level'")


def test_help_succeeds_and_leaves_the_run_alone(
    tracked: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command("split", ["--help"]) == 0
    assert "--replicates" in capsys.readouterr().out
    assert mlflow.MlflowClient().get_run(tracked).info.status == "RUNNING"


def test_a_pipeline_step_leaves_printing_its_error_to_the_pipeline(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The step's run ends (and MLflow unsets ``MLFLOW_RUN_ID``) before the error reaches
    the front end; the pipeline prints it once, as ``step data failed: ...``."""
    run = mlflow.MlflowClient().create_run(store, tags={
        "mlflow.parentRunId": "0" * 32, "mlflow.project.entryPoint": "data"})
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    assert run_command("data log", ["--source", "/no/such/folder"]) == 1
    assert "error:" not in capsys.readouterr().err
    stored = mlflow.MlflowClient().get_run(run.info.run_id)
    assert stored.info.status == "FAILED"
    assert "data directory not found" in stored.data.tags["error"]
