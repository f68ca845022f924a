"""The WearSync schema: people and connections, the normalised measurements, and the bookkeeping.

Conventions (DESIGN.md "Data"):
- Instants are naive UTC `DATETIME` columns named `*_utc`; beside each sits `utc_offset_s`, the
  patient-local offset at that instant, so a patient's civil time is `ts + offset`.
- `local_date` is the patient-local civil day a row belongs to (a sleep session: the day it ends).
- Every measurement row carries `patient_id` and `vendor`, and a unique key over (patient, vendor,
  time[, kind]) so that re-downloading is an idempotent upsert; for the time series that key is the
  primary key itself, ordered (patient, time, ...).
- Patients are soft-deleted first (`deleted_at`) so a delete can be undone; their data is purged
  when the undo window closes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.mysql import LONGBLOB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _fk_patient() -> Mapped[int]:
    return mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), nullable=False)


VENDOR = String(16)


# --------------------------------------------------------------------------- people & connections


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    note: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Connection(Base):
    """One patient's account at one vendor: the seed's "patient for a device type"."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("patient_id", "vendor", name="uq_connections_patient_vendor"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = _fk_patient()
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    # not_connected | connected | needs_reconsent | error | withdrawn
    status: Mapped[str] = mapped_column(String(24), nullable=False, default="not_connected")
    vendor_user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    token_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    scopes_granted: Mapped[str] = mapped_column(Text, nullable=False, default="")
    scopes_missing: Mapped[str] = mapped_column(Text, nullable=False, default="")
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_sync_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    connected_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    registered_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class OAuthState(Base):
    """A one-time, expiring `state` bound to a patient and vendor (also backs enrolment links)."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(96), primary_key=True)
    patient_code: Mapped[str] = mapped_column(String(64), nullable=False)
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False, default="connect")
    redirect_uri: Mapped[str] = mapped_column(String(512), nullable=False)
    verifier_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # the patient's row (a rename or a new patient under the old ID must not redirect the consent)
    patient_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    voided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class EnrolmentLink(Base):
    """A link a coordinator sends to a patient, who consents on their own phone via the tunnel."""

    __tablename__ = "enrolment_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_code: Mapped[str] = mapped_column(String(64), nullable=False)
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False, default="host")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    patient_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    voided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # the link's current pending OAuth state, encrypted: opening the link again reuses it
    state_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Device(Base):
    """A physical device; a patient who swaps a watch keeps both rows and one timeline."""

    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("patient_id", "vendor", "external_id", name="uq_devices_patient_vendor_ext"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = _fk_patient()
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    external_id: Mapped[str] = mapped_column(String(128), nullable=False)
    device_type: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    model: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    first_seen_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    last_seen_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    last_sync_utc: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    battery_level: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    battery_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class DeviceSync(Base):
    """History of a device's last-sync time as we observed it."""

    __tablename__ = "device_syncs"
    __table_args__ = (UniqueConstraint("device_id", "last_sync_utc", name="uq_device_syncs_dev_sync"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), nullable=False)
    observed_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    last_sync_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    battery_level: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)


# --------------------------------------------------------------------------- measurements


# The time series are keyed by their natural key, clustered for "one patient over a time range"
# (migration 0009_timeseries_keys): PRIMARY KEY (patient_id, time, ...) is the table's one B-tree on
# InnoDB and, WITHOUT ROWID, on SQLite, so a chart reads one contiguous slice of it and an upsert
# touches one tree, not three (no surrogate id, no separate unique key, no (patient, time) index).
_CLUSTERED = {"sqlite_with_rowid": False}


class HeartRateSample(Base):
    __tablename__ = "heart_rate_samples"
    __table_args__ = (PrimaryKeyConstraint("patient_id", "ts_utc", "kind", "vendor"), _CLUSTERED)

    patient_id: Mapped[int] = _fk_patient()
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    # sample (all-day), exercise (during a recorded exercise), sleep (sleep detail)
    kind: Mapped[str] = mapped_column(String(12), nullable=False, default="sample")
    ts_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    utc_offset_s: Mapped[int] = mapped_column(Integer, nullable=False)
    local_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    bpm: Mapped[int] = mapped_column(SmallInteger, nullable=False)


class StepInterval(Base):
    __tablename__ = "step_intervals"
    __table_args__ = (PrimaryKeyConstraint("patient_id", "start_utc", "vendor"), _CLUSTERED)

    patient_id: Mapped[int] = _fk_patient()
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    start_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    end_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    utc_offset_s: Mapped[int] = mapped_column(Integer, nullable=False)
    local_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    steps: Mapped[int] = mapped_column(Integer, nullable=False)


class RestingHeartRate(Base):
    __tablename__ = "resting_heart_rate"
    __table_args__ = (PrimaryKeyConstraint("patient_id", "local_date", "vendor"), _CLUSTERED)

    patient_id: Mapped[int] = _fk_patient()
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    local_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    bpm: Mapped[int] = mapped_column(SmallInteger, nullable=False)


class SleepSession(Base):
    __tablename__ = "sleep_sessions"
    __table_args__ = (
        UniqueConstraint("patient_id", "vendor", "start_utc", name="uq_sleep_patient_vendor_start"),
        Index("ix_sleep_patient_date", "patient_id", "local_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = _fk_patient()
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    start_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    end_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    utc_offset_s: Mapped[int] = mapped_column(Integer, nullable=False)
    local_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    is_main: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    minutes_asleep: Mapped[int | None] = mapped_column(Integer, nullable=True)
    minutes_awake: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deep_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    light_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rem_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    wakeup_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sleep_latency_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    efficiency: Mapped[float | None] = mapped_column(Double, nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hr_average: Mapped[float | None] = mapped_column(Double, nullable=True)
    hr_min: Mapped[float | None] = mapped_column(Double, nullable=True)
    hr_max: Mapped[float | None] = mapped_column(Double, nullable=True)
    rr_average: Mapped[float | None] = mapped_column(Double, nullable=True)
    rr_min: Mapped[float | None] = mapped_column(Double, nullable=True)
    rr_max: Mapped[float | None] = mapped_column(Double, nullable=True)
    snoring_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    snoring_episodes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    apnea_hypopnea_index: Mapped[float | None] = mapped_column(Double, nullable=True)
    # more of Withings' summary, in its own units (migration 0008_vendor_fields)
    time_in_bed_s: Mapped[int | None] = mapped_column(Integer, nullable=True)  # total_timeinbed
    duration_to_sleep_s: Mapped[int | None] = mapped_column(Integer, nullable=True)  # durationtosleep
    duration_to_wakeup_s: Mapped[int | None] = mapped_column(Integer, nullable=True)  # durationtowakeup
    wakeup_latency_s: Mapped[int | None] = mapped_column(Integer, nullable=True)  # wakeup_latency
    waso_s: Mapped[int | None] = mapped_column(Integer, nullable=True)  # wake after sleep onset
    out_of_bed_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rem_episodes: Mapped[int | None] = mapped_column(Integer, nullable=True)  # nb_rem_episodes
    breathing_disturbances_intensity: Mapped[float | None] = mapped_column(Double, nullable=True)


class SleepStage(Base):
    __tablename__ = "sleep_stages"
    __table_args__ = (
        PrimaryKeyConstraint("patient_id", "start_utc", "vendor"),
        Index("ix_stage_patient_date", "patient_id", "local_date"),
        _CLUSTERED,
    )

    patient_id: Mapped[int] = _fk_patient()
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    start_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    end_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    utc_offset_s: Mapped[int] = mapped_column(Integer, nullable=False)
    # the local date of the session this stage belongs to (the day the session ends)
    local_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    stage: Mapped[str] = mapped_column(String(12), nullable=False)  # wake light deep rem asleep restless


class RespiratorySample(Base):
    __tablename__ = "respiratory_samples"
    __table_args__ = (PrimaryKeyConstraint("patient_id", "ts_utc", "vendor"), _CLUSTERED)

    patient_id: Mapped[int] = _fk_patient()
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    ts_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    utc_offset_s: Mapped[int] = mapped_column(Integer, nullable=False)
    local_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    breaths_per_minute: Mapped[float] = mapped_column(Double, nullable=False)


class SnoringSample(Base):
    __tablename__ = "snoring_samples"
    __table_args__ = (PrimaryKeyConstraint("patient_id", "ts_utc", "vendor"), _CLUSTERED)

    patient_id: Mapped[int] = _fk_patient()
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    ts_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    utc_offset_s: Mapped[int] = mapped_column(Integer, nullable=False)
    local_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    value: Mapped[float] = mapped_column(Double, nullable=False)


class Exercise(Base):
    __tablename__ = "exercises"
    __table_args__ = (
        UniqueConstraint("patient_id", "vendor", "start_utc", name="uq_ex_patient_vendor_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = _fk_patient()
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    start_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    end_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    utc_offset_s: Mapped[int] = mapped_column(Integer, nullable=False)
    local_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    sport: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    avg_hr: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    max_hr: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    calories: Mapped[int | None] = mapped_column(Integer, nullable=True)
    distance_m: Mapped[float | None] = mapped_column(Double, nullable=True)
    device: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # more of Polar's exercise summary (migration 0008_vendor_fields)
    sport_detail: Mapped[str | None] = mapped_column(String(64), nullable=True)  # detailed_sport_info
    training_load: Mapped[float | None] = mapped_column(Double, nullable=True)
    running_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fat_percentage: Mapped[int | None] = mapped_column(Integer, nullable=True)
    carbohydrate_percentage: Mapped[int | None] = mapped_column(Integer, nullable=True)
    protein_percentage: Mapped[int | None] = mapped_column(Integer, nullable=True)


class DailyActivity(Base):
    __tablename__ = "daily_activity"
    __table_args__ = (
        UniqueConstraint("patient_id", "vendor", "local_date", name="uq_act_patient_vendor_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = _fk_patient()
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    local_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    steps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    calories: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # more of Polar's daily activity (migration 0008_vendor_fields)
    active_duration_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    inactive_duration_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active_calories: Mapped[int | None] = mapped_column(Integer, nullable=True)
    daily_activity_pct: Mapped[float | None] = mapped_column(Double, nullable=True)  # daily_activity
    inactivity_alert_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    distance_from_steps_m: Mapped[float | None] = mapped_column(Double, nullable=True)


class BodyMeasure(Base):
    __tablename__ = "body_measures"
    __table_args__ = (
        UniqueConstraint("patient_id", "vendor", "ts_utc", "measure_type", name="uq_meas_pat_ven_ts_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = _fk_patient()
    vendor: Mapped[str] = mapped_column(VENDOR, nullable=False)
    ts_utc: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    utc_offset_s: Mapped[int] = mapped_column(Integer, nullable=False)
    local_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    measure_type: Mapped[int] = mapped_column(Integer, nullable=False)
    value: Mapped[float] = mapped_column(Double, nullable=False)


MEASUREMENT_TABLES = (
    HeartRateSample,
    StepInterval,
    RestingHeartRate,
    SleepSession,
    SleepStage,
    RespiratorySample,
    SnoringSample,
    Exercise,
    DailyActivity,
    BodyMeasure,
)


# --------------------------------------------------------------------------- sync bookkeeping


class SyncRun(Base):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(String(16), nullable=False)  # schedule manual backfill catchup cli
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="running")
    connections_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    connections_ok: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    connections_failed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_written: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")


class Coverage(Base):
    """Per patient × vendor × data type × local day: what we hold and what went wrong."""

    __tablename__ = "coverage"
    __table_args__ = (
        UniqueConstraint("connection_id", "data_type", "local_date", name="uq_cov_conn_type_date"),
        Index("ix_cov_status", "status", "local_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), nullable=False
    )
    data_type: Mapped[str] = mapped_column(String(32), nullable=False)
    local_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    # complete | partial | missing | not_worn | failed
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Setting(Base):
    """Non-secret settings (secrets live in the keyring)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


class AlertRecipient(Base):
    __tablename__ = "alert_recipients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class AlertSent(Base):
    """Which alerts went out, so a digest does not repeat itself every run."""

    __tablename__ = "alerts_sent"
    __table_args__ = (UniqueConstraint("kind", "subject_key", "day", name="uq_alert_kind_subject_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    subject_key: Mapped[str] = mapped_column(String(128), nullable=False)
    day: Mapped[dt.date] = mapped_column(Date, nullable=False)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class UndoAction(Base):
    """What a rename or delete changed, so the coordinator can take it back."""

    __tablename__ = "undo_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str] = mapped_column(String(255), nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False, default="host")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    undone_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


# --------------------------------------------------------------------------- accounts & audit


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)  # admin coordinator viewer
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class RegistrationKey(Base):
    __tablename__ = "registration_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    key_hint: Mapped[str] = mapped_column(String(16), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    used_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class AuditEntry(Base):
    """Append-only: the app inserts and reads, never updates or deletes."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(8), nullable=False)  # gui cli system
    action: Mapped[str] = mapped_column(String(48), nullable=False)
    target: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")


# --------------------------------------------------------------------------- dataset deletion


class DatasetDeletion(Base):
    """One deletion of part of a patient's data (a device type, a metric, days): the rows it removed,
    kept compressed so it can be undone inside the undo window, then purged."""

    __tablename__ = "dataset_deletions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = _fk_patient()
    selection: Mapped[str] = mapped_column(Text, nullable=False)  # JSON: vendor, metric, start, end
    counts: Mapped[str] = mapped_column(Text, nullable=False)  # JSON: rows per table
    payload: Mapped[bytes | None] = mapped_column(LargeBinary().with_variant(LONGBLOB(), "mysql"), nullable=True)
    exclude: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    undone_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    purged_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class SyncExclusion(Base):
    """A patient-local day of one connection's data type that the sync must not download again."""

    __tablename__ = "sync_exclusions"
    __table_args__ = (UniqueConstraint("connection_id", "data_type", "local_date", name="uq_excl_conn_type_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), nullable=False)
    data_type: Mapped[str] = mapped_column(String(32), nullable=False)
    local_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    deletion_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_deletions.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
