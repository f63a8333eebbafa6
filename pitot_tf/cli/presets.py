"""``pitot-tf presets [show NAME]``: list presets or print one resolved config."""

from __future__ import annotations

from typing import Annotated

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
