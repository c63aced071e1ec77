"""market: the table ``standings``, what each person's published evaluations add up to (how many scores
count, their sum, the mean rounded half up to two decimals in hundredths), kept beside the evaluations so
that a search filters and orders by reputation through an index rather than reading every evaluation
(:mod:`node.market.evaluations.standings` keeps it up to date); filled here from the evaluations already
published, counted as the node counts them: overall from 1 to 5, for the person evaluated and for the
member who carried out a group's service when another one.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-08 02:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FILL = """
INSERT INTO standings (uri, count, total, hundredths)
SELECT uri, count(*), sum(overall), (200 * sum(overall) + count(*)) / (2 * count(*))
FROM (
    SELECT evaluated_uri AS uri, overall FROM evaluations
    WHERE state = 'published' AND overall BETWEEN 1 AND 5
    UNION ALL
    SELECT performer_uri AS uri, overall FROM evaluations
    WHERE state = 'published' AND overall BETWEEN 1 AND 5
      AND performer_uri IS NOT NULL AND performer_uri != evaluated_uri
) AS scores
GROUP BY uri
"""


def upgrade() -> None:
    op.create_table(
        "standings",
        sa.Column("uri", sa.String(length=2048), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("hundredths", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("uri", name=op.f("pk_standings")),
    )
    op.create_index(op.f("ix_standings_hundredths"), "standings", ["hundredths"], unique=False)
    op.execute(_FILL)


def downgrade() -> None:
    op.drop_index(op.f("ix_standings_hundredths"), table_name="standings")
    op.drop_table("standings")
