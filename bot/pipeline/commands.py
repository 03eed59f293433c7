"""`motcua worker` (processing and dispatch outside the web process) and `motcua chat` (terminal chat)."""

from __future__ import annotations

import logging
import os
import sys
import uuid

import click
from sqlalchemy import select

from bot.app import freeze_startup_objects
from bot.config import Settings
from bot.db import upgrade
from bot.messages import Inbound
from bot.models import InboundEvent
from bot.pipeline import dispatcher, worker
from bot.pipeline.ingest import store_events
from bot.pipeline.runner import Runner
from bot.services import Services
from bot.templates import text
from connectors import build_connectors
from connectors.base import ParsedEvent, http_session
from connectors.console import ConsoleConnector


@click.command("worker")
@click.option("--processors", type=int, default=None, help="Event threads (default WORKER_THREADS).")
@click.option("--dispatchers", type=int, default=1, show_default=True, help="Outbox-sending threads.")
def worker_command(processors: int | None, dispatchers: int) -> None:
    """Process stored events and send the outbox; run several against one PostgreSQL to scale out.

    `--processors 0` runs dispatch only, `--dispatchers 0` processing only.
    """
    settings = Settings.load()
    services = Services.build(settings)
    upgrade(services.engine)
    connectors = build_connectors(services)
    count = settings.worker_threads if processors is None else processors
    if count <= 0 and dispatchers <= 0:
        raise click.UsageError("nothing to run: give --processors or --dispatchers more than 0")
    click.echo(f"motcua worker: {count} processor(s), {dispatchers} dispatcher(s); Ctrl-C stops")
    runner = Runner(services, connectors, processors=count, dispatchers=dispatchers, nudged=False).start()
    freeze_startup_objects()  # after the runner preloaded the catalogue and flows
    runner.join()


@click.command("chat")
@click.option("--user", default="console", show_default=True, help="Conversation id of this terminal user.")
@click.pass_context
def chat_command(ctx: click.Context, user: str) -> None:
    """Chat with the bot in the terminal through the same engine (reads lines from stdin; pipe-friendly).

    Buttons are printed as numbered lines: typing the number picks the button (as on every channel).
    A caller may hand in the dialogue to run as the context object's "dialogue" (default: the flow engine).
    """
    if "LOG_LEVEL" not in os.environ:  # the terminal is the chat: keep routine log lines out of it
        logging.getLogger().setLevel(logging.WARNING)
    settings = Settings.load()
    dialogue = ctx.obj.get("dialogue") if isinstance(ctx.obj, dict) else None
    services = Services.build(settings, dialogue=dialogue)
    upgrade(services.engine)
    console = ConsoleConnector(services, out=sys.stdout)
    connectors = {"console": console}
    http = http_session()
    interactive = sys.stdin.isatty()
    click.echo(text("channels.console_banner"))
    while True:
        if interactive:
            click.echo("anh/chị> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        message_id = uuid.uuid4().hex
        inbound = Inbound(channel="console", user_id=user, kind="text", text=line, message_id=message_id)
        if not interactive:
            click.echo(f"anh/chị> {line}")
        event_id = f"console:{user}:{message_id}"
        store_events(services, "console", [ParsedEvent(event_id, user, inbound)], line.encode())
        worker.drain(services, connectors, channels=["console"])
        _stop_if_failed(services, event_id)
        dispatcher.drain(services, connectors, http)


def _stop_if_failed(services: Services, event_id: str) -> None:
    """A turn that could not run (e.g. the NLU server is down) ends the chat with the reason."""
    with services.sessions() as session:
        status, error = session.execute(
            select(InboundEvent.status, InboundEvent.error)
            .where(InboundEvent.channel == "console", InboundEvent.event_id == event_id)
        ).one()
    if status not in ("done", "ignored"):
        click.echo(f"error: the turn did not run: {error}", err=True)
        with services.sessions() as session, session.begin():
            event = session.scalars(select(InboundEvent).where(
                InboundEvent.channel == "console", InboundEvent.event_id == event_id)).one()
            event.status = "failed"  # do not block the next line behind it
        sys.exit(1)
