"""docs/config.md is generated from the config dataclasses and cannot drift from them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pitot_tf.config import Config, setting, valid_keys
from pitot_tf.config_reference import config_reference, key_rows

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "config.md"


def test_docs_config_md_is_the_generated_reference() -> None:
    assert DOC.read_text(encoding="utf-8") == config_reference(), (
        "docs/config.md is stale: run `pitot-tf presets keys --out docs/config.md`")


def test_every_key_appears_once_with_type_default_and_meaning() -> None:
    text = config_reference()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    keys = [row.split("`")[1] for row in rows]
    assert sorted(keys) == valid_keys()
    flat = Config().flat()
    for row in rows:
        key, kind, default, meaning = (cell.strip() for cell in row.strip("|").split(" | "))
        name = key.strip("`")
        assert kind in {"int", "float", "str", "bool", "list[int]", "list[float]", "list[str]"}
        assert len(meaning) > 10 and meaning.endswith("."), name
        value = flat[name]
        assert default.strip("`") == (value if isinstance(value, str)
                                      else str(value).replace("True", "true")
                                      .replace("False", "false")), name
    assert "| `model.layers` | list[int] | `[128, 128]` |" in text
    assert "| `model.baseline` | bool | `true` |" in text


def test_a_key_without_a_meaning_is_refused() -> None:
    @dataclasses.dataclass
    class Section:
        documented: int = setting(1, "Has a meaning.")
        bare: int = 2

    with pytest.raises(ValueError, match="config key s.bare has no meaning"):
        key_rows(Section, "s.")


def test_list_defaults_are_not_shared_between_configs() -> None:
    first = Config()
    first.model.layers.append(7)
    assert Config().model.layers == [128, 128]


def test_presets_keys_prints_and_writes_the_reference(tmp_path: Path) -> None:
    from pitot_tf.cli.app import app, register_commands

    register_commands()
    printed = CliRunner().invoke(app, ["presets", "keys"])
    assert printed.exit_code == 0 and printed.output == config_reference()
    out = tmp_path / "config.md"
    written = CliRunner().invoke(app, ["presets", "keys", "--out", str(out)])
    assert written.exit_code == 0 and out.read_text(encoding="utf-8") == config_reference()
