"""card copy: a dossier document filed from the ID card photo the citizen sent to fill in their details

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 09:00:00

A flow's copy of a person's ID card (`card_of` in data/flows) starts with the photo whose QR code was read
and confirmed; officers see which file that was. Earlier documents were all sent as documents (false).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('dossier_document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('from_card', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('dossier_document', schema=None) as batch_op:
        batch_op.drop_column('from_card')
