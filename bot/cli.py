"""The `motcua` command. Each area registers its own click group here."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.config import Settings
from bot.logging import setup_logging


@click.group()
def main() -> None:
    """motcua: chat assistant of a commune public-service centre."""
    setup_logging()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: PORT from the environment (8000).")
@click.option("--threads", type=int, default=8, show_default=True, help="Request threads.")
def run(host: str, port: int | None, threads: int) -> None:
    """Serve the app (webhooks, web chat, staff console) with embedded workers.

    One gunicorn process with request threads: the embedded worker threads and SQLite need a
    single process. For several processes, run gunicorn on `bot.wsgi:app` with EMBEDDED_WORKERS=false
    and separate `motcua worker` processes against PostgreSQL.
    """
    from gunicorn.app.base import BaseApplication

    from bot.app import create_app, freeze_startup_objects

    settings = Settings.load()
    options = {"bind": f"{host}:{port or settings.port}", "workers": 1, "worker_class": "gthread",
               "threads": threads, "timeout": 60, "accesslog": None, "errorlog": "-"}

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            # Built in the serving process (after gunicorn forks), so the worker threads live there.
            app = create_app(settings)
            freeze_startup_objects()
            return app

    click.echo(f"motcua: serving on http://{options['bind']}")
    Server().run()


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database at DATABASE_URL to the newest schema."""
    from bot.db import make_engine, upgrade

    upgrade(make_engine(Settings.load().database_url))
    click.echo("database is up to date")


@db.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    command.revision(cfg, message=message, autogenerate=True)


@main.command()
@click.option("--job", "jobs", multiple=True, type=click.Choice(["drafts", "retention", "orphans"]),
              help="Only these jobs (default: all).")
def maintenance(jobs: tuple[str, ...]) -> None:
    """Run the data-lifecycle jobs once (draft expiry, retention, orphan sweep), e.g. from cron.

    Safe to run from several machines at once: each job runs in one process at a time, and a re-run
    does nothing that was already done. Prints what each job did as JSON (null: running elsewhere).
    """
    import json

    from bot.lifecycle import JOBS, run_once
    from bot.services import Services

    services = Services.build(Settings.load())
    try:
        click.echo(json.dumps(run_once(services, jobs=jobs or tuple(JOBS)), sort_keys=True))
    finally:
        services.engine.dispose()


def _register() -> None:
    """Area command groups; imported here so `motcua --help` lists them all."""
    from bot.insight.cli import export_reviewed, retrain_command
    from nlu.cli import nlu

    nlu.add_command(export_reviewed)
    nlu.add_command(retrain_command)
    main.add_command(nlu)

    from bot.staff.cli import staff

    main.add_command(staff)

    from bot.catalog.cli import catalog

    main.add_command(catalog)

    from bot.pipeline.commands import chat_command, worker_command
    from flows.cli import flows as flows_group

    main.add_command(flows_group)

    main.add_command(worker_command)
    main.add_command(chat_command)


_register()

if __name__ == "__main__":
    sys.exit(main())
