"""maintenance lease: one row per data-lifecycle job (draft expiry, retention, orphan sweep)

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-04 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = '0006'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'maintenance_lease',
        sa.Column('job', sa.String(length=40), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=True),
        sa.Column('until', bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_done_at', bot.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('job'),
    )


def downgrade() -> None:
    op.drop_table('maintenance_lease')
