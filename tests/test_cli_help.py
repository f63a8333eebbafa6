"""Every ``pitot-tf`` command and option says what it does and what it defaults to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperGroup

from pitot_tf.cli.app import app, register_commands


def walk(command: Any, path: str = "pitot-tf") -> Iterator[tuple[str, Any]]:
    """Every command in the tree under ``command`` (typer's click objects), with its full
    name."""
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from walk(sub, f"{path} {name}")


def tree() -> list[tuple[str, Any]]:
    register_commands()
    return list(walk(typer.main.get_command(app)))


def options(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "option" and p.name != "help"]


def states_its_default(option: Any) -> bool:
    """Help text shows the default: typer's ``[default: X]`` or the text names it."""
    if option.required:
        return True
    shown = option.show_default is not False and option.default is not None
    return shown or "default" in (option.help or "").lower()


def test_every_command_has_help() -> None:
    missing = [path for path, command in tree() if not (command.help or "").strip()]
    assert missing == []


def test_every_option_says_what_it_does_and_its_default() -> None:
    no_help, no_default = [], []
    for path, command in tree():
        for param in options(command):
            label = f"{path} {param.opts[0]}"
            if not (param.help or "").strip():
                no_help.append(label)
            elif not states_its_default(param):
                no_default.append(label)
    assert no_help == []
    assert no_default == []


def test_every_argument_says_what_it_is() -> None:
    bare = [f"{path} {p.name}" for path, command in tree() for p in command.params
            if p.param_type_name == "argument" and not (getattr(p, "help", "") or "").strip()]
    assert bare == []


def test_the_walk_sees_the_whole_tree() -> None:
    """The checks above would pass on an empty tree: make sure they see nested commands."""
    names = {path for path, _ in tree()}
    assert {"pitot-tf train", "pitot-tf data log", "pitot-tf search export",
            "pitot-tf sweep summary", "pitot-tf pipeline", "pitot-tf runs repair"} <= names


def test_a_command_without_help_would_be_caught() -> None:
    bare = typer.Typer()

    @bare.command()
    def quiet(x: int = 1) -> None:
        pass

    @bare.command()
    def other() -> None:
        """Has help."""

    (_, command), = [(p, c) for p, c in walk(typer.main.get_command(bare)) if p.endswith("quiet")]
    assert not (command.help or "").strip()
    (option,) = options(command)
    assert not (option.help or "").strip()
    assert not states_its_default(type("Bare", (), {"required": False, "show_default": False,
                                                    "default": None, "help": "Says what."})())
