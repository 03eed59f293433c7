"""`motcua flows ...`: checks of the flow files that need the catalogue and the official forms."""

from __future__ import annotations

import sys

import click


@click.group()
def flows() -> None:
    """Flow files (data/flows) against the official forms (data/forms) and the catalogue."""


@flows.command("check")
def check_command() -> None:
    """Official-form fields each curated flow collects, and documents asked without their condition."""
    from flows.lint import FormError, check, render

    try:
        text, ok = render(check())
    except (FormError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(text)
    sys.exit(0 if ok else 1)
