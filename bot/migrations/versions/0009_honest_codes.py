"""honest codes: online reference vs official code, appointment set at acceptance, new statuses

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 07:40:00

`dossier.code` keeps the value citizens were given; `official_code` is the one-stop code an officer
gives at acceptance. Dossiers submitted before this revision were given their code and date at
submission and officers have worked with them since: they count as accepted (official_code = code,
accepted_at = received_at), so nothing changes for them. `appointment_date` becomes optional: nothing
is promised before acceptance. Statuses are strings, so the new ones need no schema change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('official_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('estimated_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('accepted_at', bot.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('processing_value', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('processing_unit', sa.String(length=12), nullable=True))
        batch_op.alter_column('appointment_date', existing_type=sa.Date(), nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_dossier_official_code'), ['official_code'])
    op.execute("UPDATE dossier SET official_code = code, accepted_at = received_at")


def downgrade() -> None:
    with op.batch_alter_table('dossier', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_dossier_official_code'), type_='unique')
        batch_op.alter_column('appointment_date', existing_type=sa.Date(), nullable=False)
        batch_op.drop_column('processing_unit')
        batch_op.drop_column('processing_value')
        batch_op.drop_column('accepted_at')
        batch_op.drop_column('estimated_date')
        batch_op.drop_column('official_code')
