"""The config key reference (docs/config.md), generated from the config dataclasses.

Every key's type and default come from its declaration in :mod:`pitot_tf.config`, and its
meaning from the ``help`` metadata next to it (:func:`pitot_tf.config.setting`), so the
reference cannot drift from the code: a test regenerates it and compares it with the file.
``pitot-tf presets keys`` prints it.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

from pitot_tf.config import HELP, Config

TITLE = "# Config keys"
INTRO = """\
Every setting of a run is one key of one typed config. Presets
(`pitot-tf presets`, `pitot-tf presets show NAME`) are small sets of overrides of these
defaults; `--set key=value` (MLflow: `-P overrides="key=value ..."`) overrides one more.
An unknown key or a value of the wrong type or range is an error that names the key.
Values are written as in YAML: `--set model.layers=[64,64]`, `--set training.jit_compile=false`.

This page is generated from `pitot_tf/config.py` (`pitot-tf presets keys --out docs/config.md`);
a test fails when the two differ."""


def type_name(annotation: Any) -> str:
    """``int``, ``list[int]``, ... for a field's declared type."""
    if typing.get_origin(annotation) is list:
        (inner,) = typing.get_args(annotation)
        return f"list[{type_name(inner)}]"
    return str(getattr(annotation, "__name__", annotation))


def default_text(value: Any) -> str:
    """A default as it would be written in an override (``true``, ``[128, 128]``, ``pitot``)."""
    return value if isinstance(value, str) else json.dumps(value)


def key_rows(owner: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """``(key, type, default, meaning)`` for every plain key of the dataclass ``owner`` (a
    config section, keys written ``<prefix><name>``; or :class:`Config` itself, whose section
    fields are skipped). A key declared without a meaning is a ValueError."""
    hints = typing.get_type_hints(owner)
    defaults = owner()
    rows = []
    for item in dataclasses.fields(owner):
        if dataclasses.is_dataclass(hints[item.name]):
            continue
        meaning = item.metadata.get(HELP)
        if not meaning:
            raise ValueError(f"config key {prefix}{item.name} has no meaning: declare it with "
                             "pitot_tf.config.setting(default, meaning)")
        rows.append((f"{prefix}{item.name}", type_name(hints[item.name]),
                     default_text(getattr(defaults, item.name)), str(meaning)))
    return rows


def _table(rows: list[tuple[str, str, str, str]]) -> list[str]:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, kind, default, meaning in rows:
        cell = meaning.replace("|", "\\|")
        lines.append(f"| `{key}` | {kind} | `{default}` | {cell} |")
    return lines


def config_reference() -> str:
    """The whole reference as markdown: one table per config section, then the top level."""
    hints = typing.get_type_hints(Config)
    parts = [TITLE, "", INTRO]
    for item in dataclasses.fields(Config):
        section = hints[item.name]
        if not (isinstance(section, type) and dataclasses.is_dataclass(section)):
            continue
        doc = (section.__doc__ or "").strip().splitlines()[0]
        parts += ["", f"## {item.name}", "", doc, "",
                  *_table(key_rows(section, f"{item.name}."))]
    parts += ["", "## top level", "", "Keys outside any section.", "", *_table(key_rows(Config))]
    return "\n".join(parts) + "\n"
