"""Migration 0008_vendor_fields on SQLite and MariaDB: upgrade adds the vendors' extra fields as empty
columns and keeps every stored row; downgrade removes exactly those columns and keeps the rows too."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from db.engine import Database
from db.migrate import MIGRATIONS, current_revision, downgrade, upgrade

REVISION = "0008_vendor_fields"
NEW = {
    "sleep_sessions": {"time_in_bed_s", "duration_to_sleep_s", "duration_to_wakeup_s", "wakeup_latency_s",
                       "waso_s", "out_of_bed_count", "rem_episodes", "breathing_disturbances_intensity"},
    "exercises": {"sport_detail", "training_load", "running_index", "fat_percentage", "carbohydrate_percentage",
                  "protein_percentage"},
    "daily_activity": {"active_duration_s", "inactive_duration_s", "active_calories", "daily_activity_pct",
                       "inactivity_alert_count", "distance_from_steps_m"},
}
ROWS = {  # invented rows, written with the columns that existed before the revision
    "sleep_sessions": "INSERT INTO sleep_sessions (patient_id, vendor, external_id, start_utc, end_utc, utc_offset_s, "
                      "local_date, is_main, minutes_asleep, efficiency, hr_average) VALUES (:pid, 'withings', 'n1', "
                      "'2026-11-19 22:10:00', '2026-11-20 06:20:00', 3600, '2026-11-20', 1, 431, 0.8765, 57.25)",
    "exercises": "INSERT INTO exercises (patient_id, vendor, external_id, start_utc, end_utc, utc_offset_s, "
                 "local_date, sport, avg_hr, calories, distance_m) VALUES (:pid, 'polar', 'E1', '2026-11-20 17:00:00', "
                 "'2026-11-20 17:45:30', 3600, '2026-11-20', 'RUNNING', 141, 512, 7012.125)",
    "daily_activity": "INSERT INTO daily_activity (patient_id, vendor, local_date, steps, calories, active_minutes) "
                      "VALUES (:pid, 'polar', '2026-11-20', 10234, 2210, 97)",
}


def parent() -> str:
    """The revision before this one (0006_privileges today; whatever the chain says after a re-chain)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg).get_revision(REVISION)
    assert script is not None and isinstance(script.down_revision, str)
    return script.down_revision


def columns(db: Database, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(db.engine).get_columns(table)}


def contents(db: Database, table: str, names: set[str]) -> list[tuple[object, ...]]:
    with db.engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(f"SELECT {', '.join(sorted(names))} FROM {table} ORDER BY id"))]


def test_upgrade_and_downgrade_keep_the_rows(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db, revision=parent())
        before = {t: columns(db, t) for t in NEW}
        assert all(not (before[t] & NEW[t]) for t in NEW)
        with db.engine.begin() as c:
            c.execute(sa.text("INSERT INTO patients (code, note, created_at) "
                              "VALUES ('MIG-1', '', '2026-11-01 00:00:00')"))
            pid = c.execute(sa.text("SELECT id FROM patients WHERE code = 'MIG-1'")).scalar_one()
            for sql in ROWS.values():
                c.execute(sa.text(sql), {"pid": pid})
        old = {t: contents(db, t, before[t]) for t in NEW}

        upgrade(db, revision=REVISION)
        assert current_revision(db) == REVISION
        for t in NEW:
            assert columns(db, t) == before[t] | NEW[t]
            assert contents(db, t, before[t]) == old[t]  # nothing lost, nothing changed
            assert contents(db, t, NEW[t]) == [(None,) * len(NEW[t])]  # not known for rows stored before
        with db.engine.begin() as c:  # the new columns take values
            c.execute(sa.text("UPDATE sleep_sessions SET time_in_bed_s = 29700, "
                              "breathing_disturbances_intensity = 7.25"))
            c.execute(sa.text("UPDATE exercises SET training_load = 143.22, sport_detail = 'RUNNING_ROAD'"))
            c.execute(sa.text("UPDATE daily_activity SET distance_from_steps_m = 8425.5, active_duration_s = 11070"))
        with db.engine.connect() as c:
            assert c.execute(sa.text("SELECT time_in_bed_s, breathing_disturbances_intensity FROM sleep_sessions")
                             ).one() == (29700, 7.25)
            assert c.execute(sa.text("SELECT training_load, sport_detail FROM exercises")).one() == (143.22,
                                                                                                   "RUNNING_ROAD")

        downgrade(db, parent())
        assert current_revision(db) == parent()
        for t in NEW:
            assert columns(db, t) == before[t]
            assert contents(db, t, before[t]) == old[t]
        upgrade(db, revision=REVISION)
        assert current_revision(db) == REVISION and all(columns(db, t) >= NEW[t] for t in NEW)
    finally:
        db.dispose()
