"""`motcua staff ...`: officer accounts from the command line (the first admin is made here)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from bot.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@click.group()
def staff() -> None:
    """Staff console accounts."""


def _read_password() -> str:
    """From stdin when piped (scripts), else an interactive prompt typed twice."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@contextmanager
def _accounts() -> Iterator[Session]:
    """One transaction on the configured (migrated) database; an AccountError becomes the command's error."""
    from bot.db import make_engine, make_session_factory, transaction, upgrade
    from bot.staff.auth import AccountError

    engine = make_engine(Settings.load().database_url)
    upgrade(engine)
    try:
        with transaction(make_session_factory(engine)) as session:
            yield session
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()


@staff.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["officer", "admin"]), default="officer", show_default=True)
def add(username: str, role: str) -> None:
    """Create an account; the password is read from stdin or a prompt, never from the command line."""
    from bot.staff import audit
    from bot.staff.auth import create_user

    password = _read_password()
    with _accounts() as session:
        user = create_user(session, username, password, role)
        audit.record(session, None, "user.create", "staff_user", user.id, f"role {role}", actor="cli")
        name = user.username
    click.echo(f"created {role} {name}")


@staff.command("password")
@click.argument("username")
def password(username: str) -> None:
    """Set a new password (read like `add`); it also lifts a lock-out and ends every session of the account.

    The way back in when the only admin forgot the password, or when a session may be in the wrong hands.
    """
    from bot.staff import audit
    from bot.staff.auth import AccountError, find_user, set_password

    new = _read_password()
    with _accounts() as session:
        user = find_user(session, username)
        if user is None:
            raise AccountError(f"Không có tài khoản {username.strip().lower()}.")
        set_password(session, user, new)
        audit.record(session, None, "user.password_reset", "staff_user", user.id, actor="cli")
        name = user.username
    click.echo(f"password set for {name}; its sessions have ended")
