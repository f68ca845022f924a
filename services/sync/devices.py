"""The patients' devices as the Patients page shows them: model, battery, and when each last synced
with its vendor (from the Device rows the downloads keep; a swapped device stays as "retired")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from db.engine import Database
from db.models import Device, Patient


@dataclass(frozen=True)
class DeviceInfo:
    patient_code: str
    vendor: str
    model: str
    device_type: str
    battery_level: int | None
    battery_status: str | None
    last_sync_at: dt.datetime | None  # when the device last synced with the vendor (naive UTC)
    retired: bool

    @property
    def name(self) -> str:
        return self.model or self.device_type.capitalize() or "Device"


def devices_by_patient(db: Database) -> dict[str, list[DeviceInfo]]:
    """Every enrolled patient's devices, the ones in use first, then the most recently synced."""
    with db.session() as s:
        rows = s.execute(
            select(Patient.code, Device)
            .join(Device, Device.patient_id == Patient.id)
            .where(Patient.deleted_at.is_(None))
        ).all()
        out: dict[str, list[DeviceInfo]] = {}
        for code, d in rows:
            out.setdefault(code, []).append(DeviceInfo(
                code, d.vendor, d.model, d.device_type, d.battery_level, d.battery_status, d.last_sync_utc,
                d.retired_at is not None))
    for devices in out.values():
        devices.sort(key=lambda d: (d.retired, d.last_sync_at is None, -(d.last_sync_at or dt.datetime(1970, 1, 1))
                                    .replace(tzinfo=dt.UTC).timestamp()))
    return out
