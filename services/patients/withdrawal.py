"""Consent withdrawal: a patient leaves the study — revoke vendor access, then delete or keep the data.

Order matters: first the vendors are told (each connected vendor's `revoke(code, vendor)`: Google
token revoke, Polar DELETE /v3/users/{id}, Withings revoke), and a vendor's connection is marked
`withdrawn` with its tokens cleared as soon as that vendor confirmed. If a vendor cannot be reached
nothing is deleted and the withdrawal stops with a message, so it can be retried (`force=True`
finishes it locally anyway and reports which vendors still hold a grant the patient should remove
in the vendor's app). Then, per the choice made at that moment, all the patient's data is deleted
at once (no 24-hour undo: the patient asked) or kept for the study, and the audit trail records
the retention choice.

The GUI asks for confirmation with `app.patients.preview_delete(code)` (vendors and row counts)
and runs this off the UI thread (vendor calls). The revoke function is injected: normally
`vendor_revoke(app, actor)`, i.e. `lambda code, vendor: app.connections.revoke(code, vendor, actor)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select

from db.engine import Database
from db.models import Connection, Patient
from services.accounts.actor import Actor
from services.accounts.audit import AuditLog
from services.clock import Clock
from services.config import VENDOR_LABELS
from services.connect.oauth.states import void_pending
from services.errors import NotFound, WearSyncError
from services.patients.service import PatientService, validate_code


class WithdrawalHost(Protocol):
    """What a withdrawal needs from the app (the facade, `services.app.WearSync`, is one)."""

    @property
    def db(self) -> Database: ...
    @property
    def patients(self) -> PatientService: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def clock(self) -> Clock: ...

log = logging.getLogger(__name__)

RevokeFn = Callable[[str, str], None]
# a connection in one of these states may still hold a grant at the vendor
_MAY_HOLD_GRANT = ("connected", "needs_reconsent", "error")


class WithdrawalIncomplete(WearSyncError):
    title = "Withdrawal not finished"

    def __init__(self, message: str, failed: dict[str, str]) -> None:
        super().__init__(message)
        self.failed = failed


@dataclass(frozen=True)
class WithdrawalResult:
    code: str
    revoked: list[str]  # vendors that confirmed the revoke
    not_revoked: dict[str, str] = field(default_factory=dict)  # vendor -> why (forced, or no revoke fn)
    data_deleted: bool = False
    rows_deleted: int = 0

    def describe(self) -> str:
        done = ", ".join(VENDOR_LABELS[v] for v in self.revoked) or "no vendor"
        text = f"Patient {self.code} withdrawn; access revoked at {done}."
        if self.not_revoked:
            left = ", ".join(VENDOR_LABELS[v] for v in self.not_revoked)
            text += f" Could not revoke at {left}: ask the patient to remove WearSync in that app."
        if self.data_deleted:
            text += f" {self.rows_deleted:,} data rows deleted."
        else:
            text += " The downloaded data is kept."
        return text


def vendor_revoke(app: object, actor: Actor) -> RevokeFn | None:
    """The app's own revoke (ConnectionService.revoke) bound to `actor`, once that service exists."""
    connections = getattr(app, "connections", None)
    revoke = getattr(connections, "revoke", None)
    if revoke is None:
        return None
    return lambda code, vendor: revoke(code, vendor, actor)


def withdraw_patient(app: WithdrawalHost, code: str, actor: Actor, keep_data: bool,
                     revoke: RevokeFn | None, force: bool = False) -> WithdrawalResult:
    """Withdraw `code`'s consent. `revoke=None` skips the vendor calls (none available): the
    connections are still cleared and the result lists the vendors not revoked."""
    actor.require("patients.delete")
    code = validate_code(code)
    preview = app.patients.preview_delete(code)  # NotFound for an unknown or deleted patient
    with app.db.session() as s:
        vendors = list(s.scalars(
            select(Connection.vendor).join(Patient, Patient.id == Connection.patient_id)
            .where(Patient.code == code, Patient.deleted_at.is_(None), Connection.status.in_(_MAY_HOLD_GRANT))
        ))

    revoked: list[str] = []
    failed: dict[str, str] = {}
    for vendor in vendors:
        if revoke is None:
            failed[vendor] = "no revoke available"
            continue
        try:
            revoke(code, vendor)
        except Exception as exc:  # any vendor failure: report it, keep going with the others
            failed[vendor] = exc.message if isinstance(exc, WearSyncError) else type(exc).__name__
            log.warning("revoking a %s grant failed (%s)", vendor, type(exc).__name__)
            continue
        revoked.append(vendor)
        _clear_connection(app, code, vendor)

    if failed and not force and revoke is not None:
        labels = ", ".join(f"{VENDOR_LABELS[v]} ({why})" for v, why in failed.items())
        app.audit.record(actor, "patient.withdraw_failed", code,
                         f"revoked: {', '.join(revoked) or 'none'}; failed: {', '.join(failed)}")
        raise WithdrawalIncomplete(
            f"Could not revoke access at {labels}. Nothing was deleted; try again when the vendor can "
            "be reached, or finish the withdrawal without it.",
            failed,
        )

    rows = 0
    with app.db.session() as s:
        patient = s.scalar(select(Patient).where(Patient.code == code, Patient.deleted_at.is_(None)))
        if patient is None:
            raise NotFound(f"There is no patient {code!r}.")
        for conn in s.scalars(select(Connection).where(Connection.patient_id == patient.id)):
            _forget_grant(conn, app.clock)
        # links already sent to the patient must not reconnect them
        void_pending(s, patient.id, None, app.clock.utcnow())
        if not keep_data:
            rows = preview.total_rows
            PatientService.erase(s, patient.id)  # at once: no undo window for a withdrawal
        retention = f"data deleted ({rows} rows)" if not keep_data else "data kept"
        detail = f"{retention}; revoked at: {', '.join(revoked) or 'none'}"
        if failed:
            detail += f"; not revoked: {', '.join(failed)}"
        app.audit.record_in(s, actor, "patient.withdraw", code, detail)
    return WithdrawalResult(code, revoked, failed, not keep_data, rows)


def _forget_grant(conn: Connection, clock: Clock) -> None:
    conn.status = "withdrawn"
    conn.token_ciphertext = None
    conn.token_expires_at = None
    conn.vendor_user_id = None
    conn.scopes_granted = ""
    conn.last_error = None
    conn.updated_at = clock.utcnow()


def _clear_connection(app: WithdrawalHost, code: str, vendor: str) -> None:
    """Forget one vendor's grant as soon as the vendor confirmed the revoke (so a retry after a
    partial failure does not call it again)."""
    with app.db.session() as s:
        conn = s.scalar(
            select(Connection).join(Patient, Patient.id == Connection.patient_id)
            .where(Patient.code == code, Patient.deleted_at.is_(None), Connection.vendor == vendor)
        )
        if conn is not None:
            _forget_grant(conn, app.clock)
