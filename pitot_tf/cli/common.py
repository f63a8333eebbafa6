"""Options shared by several commands, spelled once so that every command (and every MLflow
entry point, which hands its parameters to these commands) reads them the same way.

* List options (``--levels``, ``--replicates``, ``--presets``, ``--groupings``) take repeated
  flags and comma-separated values alike: ``--levels 0.1,0.5`` is ``--levels 0.1 --levels 0.5``
  (and ``-P levels=0.1,0.5`` under ``mlflow run``).
* ``--set key=value`` is repeatable, and one value may hold several space-separated pairs
  (``--set "training.steps=500 model.mf_dim=64"``), which is how the MLproject's single ``set``
  parameter arrives.
* :data:`DEFAULT` (``default``) given to a path, storage or list option means the option's
  default, as if it were left out; the MLproject uses it where the default is not one fixed
  value (``$PITOT_DATA``, a split made on the fly). A folder really named ``default`` is
  ``./default``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from pitot_tf.errors import ConfigError

DEFAULT = "default"
_NEXT_PAIR = re.compile(r"\s+(?=[A-Za-z_][\w.]*=)")
_RANGE = re.compile(r"^(\d+)-(\d+)$")


class Switch(str, Enum):
    """An on/off option that takes a value (``--log-model false``), so that an MLproject
    parameter can set it; flags (``--x/--no-x``) cannot be passed a value."""

    true = "true"
    false = "false"


def not_default(value: Any) -> Any:
    """Typer callback: the :data:`DEFAULT` word (alone, for a list option) stands for "left
    out" (None)."""
    if isinstance(value, (list, tuple)):
        return None if [str(v).strip() for v in value] == [DEFAULT] else value
    return None if value is not None and str(value) == DEFAULT else value


def storage_option(ctx: typer.Context, param: typer.CallbackParam, value: str | None
                   ) -> str | None:
    """Typer callback for ``--storage``: :data:`DEFAULT` or nothing means
    ``$PITOT_STORAGE`` if set, else the study's own default (None). A password given on the
    command line works but is warned about: other users see it in the process list, and
    under ``mlflow run`` MLflow has already logged it as a param."""
    from pitot_tf.db_drivers import STORAGE_VARIABLE
    from pitot_tf.redaction import has_secret

    if value is None or value == DEFAULT:
        return os.environ.get(STORAGE_VARIABLE) or None
    source = ctx.get_parameter_source(param.name or "")  # typer's own click: compare by name
    if has_secret(value) and getattr(source, "name", "") == "COMMANDLINE":
        typer.echo(f"warning: --storage holds a password, which other users can see in the "
                   f"process list (and `mlflow run` logs as a param); set ${STORAGE_VARIABLE} "
                   f"instead", err=True)
    return value


def items(values: Iterable[str] | None) -> list[str]:
    """Repeated and comma-separated values as one list: ``["a,b", "c"]`` → ``[a, b, c]``."""
    return [part.strip() for value in values or [] for part in str(value).split(",")
            if part.strip()]


def levels_of(values: Iterable[str] | None) -> list[float] | None:
    """``--levels`` as numbers (None when not given); a word that is no number is an error."""
    words = items(values)
    try:
        return [float(word) for word in words] or None
    except ValueError:
        raise ConfigError(f"--levels must be numbers like 0.1,0.5, got {','.join(words)}") \
            from None


def replicates_of(values: Iterable[str] | None) -> list[int] | None:
    """``--replicates`` ``0-4`` or ``0,1,2`` as ids in order, without repeats (None when not
    given)."""
    found: list[int] = []
    for word in items(values):
        span = _RANGE.match(word)
        if span:
            low, high = int(span.group(1)), int(span.group(2))
            if high < low:
                raise ConfigError(f"--replicates: range '{word}' is empty")
            ids = list(range(low, high + 1))
        elif word.isdigit():
            ids = [int(word)]
        else:
            raise ConfigError(f"--replicates: '{word}' is not a number or a range like 0-4")
        found += [i for i in ids if i not in found]
    return found or None


def pairs(values: Iterable[str] | None) -> list[str]:
    """``--set`` values as ``key=value`` items: each value is split at the spaces that
    precede the next ``key=``, so list values keep their spaces (``model.layers=[64, 64]``)."""
    return [part.strip() for value in values or [] for part in _NEXT_PAIR.split(value.strip())
            if part.strip()]


def overrides_of(values: Iterable[str] | None) -> dict[str, object]:
    """``--set`` values as an override mapping (:func:`pitot_tf.config.parse_overrides`)."""
    from pitot_tf.config import parse_overrides

    return parse_overrides(pairs(values))


OptionalPath = Optional[Path]  # noqa: UP045 - typer needs Optional on Python 3.10
OptionalStr = Optional[str]  # noqa: UP045
Words = Optional[list[str]]  # noqa: UP045

DataDir = Annotated[OptionalPath, typer.Option(
    "--data-dir", callback=not_default, show_default=False,
    help="Dataset folder (default: $PITOT_DATA, else the published dataset built into "
         "pitot-tf).")]
SplitsDir = Annotated[OptionalPath, typer.Option(
    "--splits-dir", callback=not_default, show_default=False,
    help="Split files <dir>/<level>/<replicate>.npz (default: split on the fly with seed 42).")]
Overrides = Annotated[Words, typer.Option(
    "--set", show_default=False,
    help="Config override key=value, repeatable; one value may hold several space-separated "
         "pairs (default: none).")]
Levels = Annotated[Words, typer.Option(
    "--levels", callback=not_default, show_default=False,
    help="Data levels, repeatable or comma-separated: 0.1,0.5 (default: 0.1, 0.2, ..., 0.9).")]
Replicates = Annotated[Words, typer.Option(
    "--replicates", callback=not_default, show_default=False,
    help="Replicates: a range 0-4 or ids 0,1,2, repeatable (default: 0-4).")]
Experiment = Annotated[OptionalStr, typer.Option(
    "--experiment", show_default=False,
    help="MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME, else pitot).")]
LogModel = Annotated[Switch, typer.Option(
    "--log-model", help="Log the Keras and pyfunc models: true or false.")]
ModelUri = Annotated[str, typer.Option(
    "--model-uri", help="Model URI: runs:/<run id>/pyfunc-model, models:/<name>@<alias> or a "
                        "folder.")]
