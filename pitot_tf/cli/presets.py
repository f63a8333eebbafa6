"""``pitot-tf presets [show NAME | keys]``: list presets, print one resolved config, or print
the config key reference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from pitot_tf.cli.app import app

presets_app = typer.Typer(
    help="List presets, or show one resolved config.", invoke_without_command=True
)
app.add_typer(presets_app, name="presets")


@presets_app.callback()
def list_presets(ctx: typer.Context) -> None:
    """List every preset with the overrides it applies (and, for tuned ones, the study and
    trial they came from)."""
    if ctx.invoked_subcommand is not None:
        return
    from pitot_tf.presets import all_presets, preset_source

    for name, overrides in all_presets().items():
        changes = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "(the paper's defaults)"
        typer.echo(f"{name:<24} {changes}")
        source = preset_source(name)
        if source:
            typer.echo(f"{'':<24} from {source}")


@presets_app.command("show")
def show(name: Annotated[str, typer.Argument(
        help="Preset name, e.g. pitot or baseline/monolith (`pitot-tf presets` lists them).")],
) -> None:
    """Print the resolved config of preset NAME as JSON."""
    from pitot_tf.presets import resolve

    typer.echo(resolve(name).to_json())


@presets_app.command("keys")
def keys(
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045 - typer needs Optional
        show_default=False,
        help="Write the reference to this file, e.g. docs/config.md (default: print it).")
    ] = None,
) -> None:
    """Print every config key with its type, default and meaning (markdown; the source of
    docs/config.md)."""
    from pitot_tf.config_reference import config_reference

    text = config_reference()
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}")
