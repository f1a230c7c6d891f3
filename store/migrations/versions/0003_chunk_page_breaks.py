"""Chunks record where inside them each page begins, so citations name a sentence's own page.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: chunks stored before this revision keep NULL and fall back to an estimate.
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("page_breaks", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("page_breaks")
