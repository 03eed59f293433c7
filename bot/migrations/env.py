"""Alembic environment: runs on the connection `bot.db.upgrade` hands over, or on DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from bot.config import Settings
from bot.db import Base, import_models, make_engine

import_models()
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(Settings.load().database_url)
    with engine.begin() as conn:
        _run(conn)
