"""every field the vendors give: more of Withings' sleep summary, Polar's exercises and daily activity

All new columns are nullable (a vendor may leave a field out on a given night or day, and rows stored
before this revision have none); each keeps the vendor's own unit in its name (`_s`, `_m`, `_pct`).
Existing rows are untouched; a re-sync fills the new columns through the usual upsert.

Revision ID: 0008_vendor_fields
Revises: 0006_privileges
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008_vendor_fields"
down_revision = "0006_privileges"
branch_labels = None
depends_on = None

COLUMNS: dict[str, tuple[tuple[str, sa.types.TypeEngine[Any]], ...]] = {
    "sleep_sessions": (
        ("time_in_bed_s", sa.Integer()),
        ("duration_to_sleep_s", sa.Integer()),
        ("duration_to_wakeup_s", sa.Integer()),
        ("wakeup_latency_s", sa.Integer()),
        ("waso_s", sa.Integer()),
        ("out_of_bed_count", sa.Integer()),
        ("rem_episodes", sa.Integer()),
        ("breathing_disturbances_intensity", sa.Double()),
    ),
    "exercises": (
        ("sport_detail", sa.String(64)),
        ("training_load", sa.Double()),
        ("running_index", sa.Integer()),
        ("fat_percentage", sa.Integer()),
        ("carbohydrate_percentage", sa.Integer()),
        ("protein_percentage", sa.Integer()),
    ),
    "daily_activity": (
        ("active_duration_s", sa.Integer()),
        ("inactive_duration_s", sa.Integer()),
        ("active_calories", sa.Integer()),
        ("daily_activity_pct", sa.Double()),
        ("inactivity_alert_count", sa.Integer()),
        ("distance_from_steps_m", sa.Double()),
    ),
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        for name, type_ in columns:
            op.add_column(table, sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        for name, _ in reversed(columns):
            op.drop_column(table, name)
