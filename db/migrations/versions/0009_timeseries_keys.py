"""time series keyed by their natural key, clustered per patient and time (issue 15)

Each time-series table carried a surrogate auto-increment `id` primary key, a unique key on
(patient, vendor, [kind,] time) and an index on (patient, time, ...): three B-trees per row on
InnoDB, and chart ranges read through a secondary index. Now the natural key IS the primary key,
ordered for "one patient over a time range" — (patient_id, time, [kind,] vendor) — so the table is
one B-tree: InnoDB clusters rows by the primary key, and on SQLite the tables become WITHOUT ROWID
(the primary key is the table). The unique keys and the (patient, time) indexes go; the id column
goes (nothing refers to these rows by id). `ix_stage_patient_date` stays (exports and deletions
select stages by patient-local day). Rows are copied as they are; the downgrade gives every row a
new id in (patient, time) order and brings back the old keys and indexes.

On MariaDB each table is rebuilt by one ALTER TABLE (InnoDB copies the table once). On SQLite each
table is created anew, filled, and renamed over the old one, in the migration's transaction.
The Grafana views (0006) read patients, connections and settings only: nothing to recreate.

Revision ID: 0009_timeseries_keys
Revises: 0008_vendor_fields
"""
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009_timeseries_keys"
down_revision = "0008_vendor_fields"
branch_labels = None
depends_on = None


@dataclass(frozen=True)
class Spec:
    columns: tuple[tuple[str, Any], ...]  # (name, SQLAlchemy type) after id and patient_id, in order
    key: tuple[str, ...]  # the new primary key
    unique: tuple[str, tuple[str, ...]]  # the old unique key
    old_indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # dropped
    kept_indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    big_id: bool = True  # the old id: BIGINT (INTEGER on SQLite) or INTEGER


_V = ("vendor", sa.String(16))
_OFF = ("utc_offset_s", sa.Integer())
_DATE = ("local_date", sa.Date())

TABLES: dict[str, Spec] = {
    "heart_rate_samples": Spec(
        (_V, ("kind", sa.String(12)), ("ts_utc", sa.DateTime()), _OFF, _DATE, ("bpm", sa.SmallInteger())),
        ("patient_id", "ts_utc", "kind", "vendor"),
        ("uq_hr_patient_vendor_kind_ts", ("patient_id", "vendor", "kind", "ts_utc")),
        {"ix_hr_chart": ("patient_id", "ts_utc", "kind", "vendor", "utc_offset_s", "bpm")}),
    "step_intervals": Spec(
        (_V, ("start_utc", sa.DateTime()), ("end_utc", sa.DateTime()), _OFF, _DATE, ("steps", sa.Integer())),
        ("patient_id", "start_utc", "vendor"),
        ("uq_steps_patient_vendor_start", ("patient_id", "vendor", "start_utc")),
        {"ix_steps_chart": ("patient_id", "start_utc", "utc_offset_s", "steps")}),
    "resting_heart_rate": Spec(
        (_V, _DATE, ("bpm", sa.SmallInteger())),
        ("patient_id", "local_date", "vendor"),
        ("uq_rhr_patient_vendor_date", ("patient_id", "vendor", "local_date")),
        big_id=False),
    "sleep_stages": Spec(
        (_V, ("start_utc", sa.DateTime()), ("end_utc", sa.DateTime()), _OFF, _DATE, ("stage", sa.String(12))),
        ("patient_id", "start_utc", "vendor"),
        ("uq_stage_patient_vendor_start", ("patient_id", "vendor", "start_utc")),
        kept_indexes={"ix_stage_patient_date": ("patient_id", "local_date")}),
    "respiratory_samples": Spec(
        (_V, ("ts_utc", sa.DateTime()), _OFF, _DATE, ("breaths_per_minute", sa.Float())),
        ("patient_id", "ts_utc", "vendor"),
        ("uq_resp_patient_vendor_ts", ("patient_id", "vendor", "ts_utc")),
        {"ix_resp_patient_ts": ("patient_id", "ts_utc")}),
    "snoring_samples": Spec(
        (_V, ("ts_utc", sa.DateTime()), _OFF, _DATE, ("value", sa.Float())),
        ("patient_id", "ts_utc", "vendor"),
        ("uq_snore_patient_vendor_ts", ("patient_id", "vendor", "ts_utc")),
        {}),
}


def _cols(names: tuple[str, ...]) -> str:
    return ", ".join(f"`{c}`" for c in names)


# --------------------------------------------------------------------------- MariaDB / MySQL


def _mysql_up(bind: sa.Connection, name: str, spec: Spec) -> None:
    parts = ["DROP PRIMARY KEY", "DROP COLUMN `id`", f"DROP INDEX `{spec.unique[0]}`"]
    parts += [f"DROP INDEX `{ix}`" for ix in spec.old_indexes]
    parts.append(f"ADD CONSTRAINT `pk_{name}` PRIMARY KEY ({_cols(spec.key)})")
    bind.exec_driver_sql(f"ALTER TABLE `{name}` " + ", ".join(parts))


def _mysql_down(bind: sa.Connection, name: str, spec: Spec) -> None:
    id_type = "BIGINT" if spec.big_id else "INTEGER"
    parts = ["DROP PRIMARY KEY", f"ADD COLUMN `id` {id_type} NOT NULL AUTO_INCREMENT FIRST",
             f"ADD CONSTRAINT `pk_{name}` PRIMARY KEY (`id`)",
             f"ADD CONSTRAINT `{spec.unique[0]}` UNIQUE ({_cols(spec.unique[1])})"]
    parts += [f"ADD INDEX `{ix}` ({_cols(cols)})" for ix, cols in spec.old_indexes.items()]
    # ids are handed out in the table's (new primary key) order: patient, then time
    bind.exec_driver_sql(f"ALTER TABLE `{name}` " + ", ".join(parts))


# --------------------------------------------------------------------------- SQLite


def _sqlite_table(name: str, spec: Spec, *, clustered: bool) -> sa.Table:
    meta = sa.MetaData()
    cols: list[sa.Column[Any]] = []
    if not clustered:
        cols.append(sa.Column("id", sa.Integer(), nullable=False))
    cols.append(sa.Column("patient_id", sa.Integer(), nullable=False))
    cols += [sa.Column(c, t, nullable=False) for c, t in spec.columns]
    sa.Table("patients", meta, sa.Column("id", sa.Integer(), primary_key=True))
    args: list[Any] = [
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=f"fk_{name}_patient_id_patients",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(*(spec.key if clustered else ("id",)), name=f"pk_{name}"),
    ]
    if not clustered:
        args.append(sa.UniqueConstraint(*spec.unique[1], name=spec.unique[0]))
    kwargs: dict[str, Any] = {"sqlite_with_rowid": False} if clustered else {}
    return sa.Table(f"_new_{name}", meta, *cols, *args, **kwargs)


def _sqlite_rebuild(bind: sa.Connection, name: str, spec: Spec, *, clustered: bool) -> None:
    table = _sqlite_table(name, spec, clustered=clustered)
    bind.execute(sa.schema.CreateTable(table))
    data = ["patient_id", *(c for c, _ in spec.columns)]
    # the old layout's ids are handed out in (patient, time) order, as the rows are inserted
    bind.exec_driver_sql(f"INSERT INTO `_new_{name}` ({_cols(tuple(data))}) "
                         f"SELECT {_cols(tuple(data))} FROM `{name}` ORDER BY {_cols(spec.key)}")
    bind.exec_driver_sql(f"DROP TABLE `{name}`")
    bind.exec_driver_sql(f"ALTER TABLE `_new_{name}` RENAME TO `{name}`")
    indexes = dict(spec.kept_indexes)
    if not clustered:
        indexes.update(spec.old_indexes)
    for ix, cols in indexes.items():
        bind.exec_driver_sql(f"CREATE INDEX `{ix}` ON `{name}` ({_cols(cols)})")


# --------------------------------------------------------------------------- steps


def upgrade() -> None:
    bind = op.get_bind()
    for name, spec in TABLES.items():
        if bind.dialect.name == "mysql":
            _mysql_up(bind, name, spec)
        else:
            _sqlite_rebuild(bind, name, spec, clustered=True)


def downgrade() -> None:
    bind = op.get_bind()
    for name, spec in TABLES.items():
        if bind.dialect.name == "mysql":
            _mysql_down(bind, name, spec)
        else:
            _sqlite_rebuild(bind, name, spec, clustered=False)
