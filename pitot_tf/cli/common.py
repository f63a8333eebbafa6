"""Options shared by several commands, so that they are spelled the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

DataDir = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option("--data-dir", help="Dataset folder (default: $PITOT_DATA, else the published "
                 "dataset built into pitot-tf)."),
]
SplitsDir = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--splits-dir", "--splits", help="Split files <dir>/<level>/<replicate>.npz."),
]
Overrides = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Option("--set", help="Config override key=value (repeatable), e.g. model.mf_dim=64."),
]
