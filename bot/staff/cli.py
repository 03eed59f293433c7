"""`motcua staff ...`: officer accounts from the command line (the first admin is made here)."""

from __future__ import annotations

import sys

import click

from bot.config import Settings


@click.group()
def staff() -> None:
    """Staff console accounts."""


def _read_password() -> str:
    """From stdin when piped (scripts), else an interactive prompt typed twice."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@staff.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["officer", "admin"]), default="officer", show_default=True)
def add(username: str, role: str) -> None:
    """Create an account; the password is read from stdin or a prompt, never from the command line."""
    from bot.db import make_engine, make_session_factory, transaction, upgrade
    from bot.staff import audit
    from bot.staff.auth import AccountError, create_user

    password = _read_password()
    engine = make_engine(Settings.load().database_url)
    upgrade(engine)
    try:
        with transaction(make_session_factory(engine)) as session:
            user = create_user(session, username, password, role)
            audit.record(session, None, "user.create", "staff_user", user.id, f"role {role}", actor="cli")
            name = user.username
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()
    click.echo(f"created {role} {name}")
