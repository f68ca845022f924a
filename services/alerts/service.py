"""Alerts: who gets them, what is wrong, and one e-mail digest per run.

What is wrong (checked after each download pass):
- a device not synced to its vendor for `alert_after_days` days — only where the vendor reports a
  device sync time, and only the device in use (not retired, most recently seen), so a patient
  who swapped watches is not reported for the old one (Fitbit's paired devices, Withings' getdevice);
- a Polar account with no new exercise or daily activity for `alert_after_days` days: Polar reports
  no device sync time, so the newest data downloaded stands in for it;
- a connection that needs the patient's consent again;
- downloads that failed in the last day;
- against a silent outage (services/alerts/outage.py): a Polar connection not downloaded for 21 days
  (Polar keeps 30), and WearSync itself not having run its daily download for `not_run_alert_days`.
The digest holds only alerts not already e-mailed today (AlertSent; "WearSync did not run" once per
outage); everything wrong is also
returned, for the tray notification and the status view. A mail failure is reported, never raised:
it must not break the sync. Patients appear by their study code only; no tokens, no health data.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db.engine import Database
from db.models import AlertRecipient, AlertSent, Connection, Coverage, DailyActivity, Device, Exercise, Patient
from db.upsert import upsert
from services.accounts.actor import Actor
from services.accounts.audit import AuditLog
from services.alerts.mail import Mailer, register_checker
from services.alerts.outage import DATA_AT_RISK, WEARSYNC_NOT_RUN, data_at_risk, wearsync_not_run
from services.clock import Clock
from services.config import VENDOR_LABELS
from services.errors import Conflict, InvalidInput, NotFound, WearSyncError
from services.logging_setup import redact
from services.secrets import SecretStore
from services.settings import Settings
from services.vendors import VENDOR_CLASSES, Vendor

log = logging.getLogger(__name__)

DEVICE_NOT_SYNCED = "device_not_synced"
NO_NEW_DATA = "no_new_data"
NEEDS_RECONSENT = "needs_reconsent"
DOWNLOAD_FAILED = "download_failed"
KIND_ORDER = (WEARSYNC_NOT_RUN, DATA_AT_RISK, DEVICE_NOT_SYNCED, NO_NEW_DATA, NEEDS_RECONSENT, DOWNLOAD_FAILED)
ONCE_KINDS = (WEARSYNC_NOT_RUN,)  # about a past outage: e-mailed once, not every day
FAILED_WITHIN = dt.timedelta(hours=24)

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def validate_email(raw: object) -> str:
    """The address as stored (trimmed, lower case) or InvalidInput saying how to write it."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise InvalidInput("Enter an e-mail address, for example coordinator@clinic.org.")
    if len(text) > 254 or not _EMAIL.match(text) or ".." in text:
        raise InvalidInput(f"{text[:80]!r} is not an e-mail address; write it like coordinator@clinic.org.")
    return text.lower()


@dataclass(frozen=True)
class Alert:
    kind: str  # see KIND_ORDER
    patient_code: str
    vendor: str
    subject_key: str  # what the alert is about, for "already sent today"
    message: str  # one plain line for the digest and the tray


@dataclass(frozen=True)
class DigestResult:
    alerts: tuple[Alert, ...]  # everything wrong now
    new: tuple[Alert, ...]  # not e-mailed yet today: what the digest holds
    recipients: tuple[str, ...] = ()
    subject: str | None = None
    body: str | None = None
    sent: bool = False
    error: str | None = None  # why the digest was not sent, in plain words

    def summary(self) -> str:
        if not self.alerts:
            return "Everything is in order."
        counts: dict[str, int] = defaultdict(int)
        for a in self.alerts:
            counts[a.kind] += 1
        text = _count_phrase(counts) + "."
        if self.error:
            text += f" The alert e-mail was not sent: {self.error}"
        return text


def _count_phrase(counts: dict[str, int]) -> str:
    words = {
        DEVICE_NOT_SYNCED: ("device not synced", "devices not synced"),
        NO_NEW_DATA: ("account with no new data", "accounts with no new data"),
        NEEDS_RECONSENT: ("connection needs re-consent", "connections need re-consent"),
        DOWNLOAD_FAILED: ("failed download", "failed downloads"),
        DATA_AT_RISK: ("connection about to lose data", "connections about to lose data"),
        WEARSYNC_NOT_RUN: ("WearSync outage", "WearSync outages"),
    }
    parts = [f"{counts[k]} {words[k][counts[k] != 1]}" for k in KIND_ORDER if counts.get(k)]
    return ", ".join(parts)


class AlertService:
    def __init__(self, db: Database, secrets: SecretStore, settings: Settings, mailer: Mailer,
                 audit: AuditLog, clock: Clock) -> None:
        self._db = db
        self._secrets = secrets
        self._settings = settings
        self.mailer = mailer
        self._audit = audit
        self._clock = clock

    # ------------------------------------------------------------------ recipients
    def recipients(self) -> list[str]:
        with self._db.session() as s:
            return list(s.scalars(select(AlertRecipient.email).order_by(AlertRecipient.email)))

    def add_recipient(self, email: str, actor: Actor) -> str:
        actor.require("settings")
        address = validate_email(email)
        with self._db.session() as s:
            if s.scalar(select(AlertRecipient.id).where(AlertRecipient.email == address)) is not None:
                raise Conflict(f"{address} already receives the alerts.")
            s.add(AlertRecipient(email=address, added_at=self._utcnow()))
        self._audit.record(actor, "alerts.recipient_add", address)
        return address

    def remove_recipient(self, email: str, actor: Actor) -> None:
        actor.require("settings")
        address = email.strip().lower()
        with self._db.session() as s:
            row = s.scalar(select(AlertRecipient).where(AlertRecipient.email == address))
            if row is not None:
                s.delete(row)
        if row is None:
            raise NotFound(f"{address} is not on the alert list.")
        self._audit.record(actor, "alerts.recipient_remove", address)

    def import_legacy_list(self, actor: Actor, raw: str | None = None) -> list[str]:
        """Add the seed's EMAIL_LIST (a JSON list, '["a@x.org", "b@x.org"]'); returns the new ones.

        Any invalid entry: nothing is added and the message names it.
        """
        actor.require("settings")
        text = raw if raw is not None else (self._secrets.get("EMAIL_LIST") or "")
        addresses = [validate_email(a) for a in parse_email_list(text)]
        have = set(self.recipients())
        added = []
        for address in dict.fromkeys(addresses):
            if address not in have:
                with self._db.session() as s:
                    s.add(AlertRecipient(email=address, added_at=self._utcnow()))
                added.append(address)
        if added:
            self._audit.record(actor, "alerts.recipient_import", f"{len(added)} address(es)")
        return added

    def send_test_email(self, to: str) -> str:
        return self.mailer.send_test_email(to)

    # ------------------------------------------------------------------ what is wrong
    def collect(self) -> list[Alert]:
        now_local = self._clock.local_now()
        now = now_local.astimezone(dt.UTC).replace(tzinfo=None)
        after_days = int(self._settings.get("alert_after_days"))
        out: list[Alert] = []
        with self._db.session() as s:
            conns = s.execute(
                select(Connection, Patient.code).join(Patient, Patient.id == Connection.patient_id)
                .where(Patient.deleted_at.is_(None)).order_by(Patient.code, Connection.vendor)
            ).tuples().all()
            devices = s.scalars(select(Device).where(Device.retired_at.is_(None))).all()
            failed = s.execute(
                select(Coverage.connection_id, Coverage.local_date, Coverage.error)
                .where(Coverage.status == "failed", Coverage.last_attempt_at >= now - FAILED_WITHIN)
                .order_by(Coverage.local_date)
            ).tuples().all()
            failing = {cid for cid, _, _ in failed}
            no_new_data = no_new_data_alerts(
                s, [(c, code) for c, code in conns if c.id not in failing], now_local.date(), after_days)
        in_use: dict[tuple[int, str], Device] = {}
        for d in devices:
            key = (d.patient_id, d.vendor)
            current = in_use.get(key)
            if current is None or (d.last_seen_utc, d.id) > (current.last_seen_utc, current.id):
                in_use[key] = d
        failed_by_conn: dict[int, list[tuple[dt.date, str | None]]] = defaultdict(list)
        for conn_id, day, error in failed:
            failed_by_conn[conn_id].append((day, error))

        for conn, code in conns:
            label = VENDOR_LABELS.get(conn.vendor, conn.vendor)
            who = f"{code}, {label}"
            if conn.status == "needs_reconsent":
                out.append(Alert(NEEDS_RECONSENT, code, conn.vendor, f"conn:{conn.id}",
                                 f"{who}: access has been withdrawn or has expired. Reconnect the patient "
                                 f"(Patients → {code} → Reconnect); nothing is downloaded until then."))
                continue
            if conn.status not in ("connected", "error"):
                continue
            device = in_use.get((conn.patient_id, conn.vendor))
            if device is not None and device.last_sync_utc is not None:
                age = now - device.last_sync_utc
                if age >= dt.timedelta(days=after_days):
                    when = device.last_sync_utc.replace(tzinfo=dt.UTC).astimezone(now_local.tzinfo)
                    name = f" ({device.model})" if device.model else ""
                    out.append(Alert(
                        DEVICE_NOT_SYNCED, code, conn.vendor, f"device:{device.id}",
                        f"{who}{name}: the device last synced to {label} on {when:%Y-%m-%d %H:%M}, "
                        f"{age.days} days ago. {sync_advice(conn.vendor, label)}",
                    ))
            out.extend(a for a in no_new_data if a.subject_key == f"nodata:{conn.id}")
            failures = failed_by_conn.get(conn.id, [])
            if failures or conn.status == "error":
                days = sorted({d for d, _ in failures})
                last_error = next((e for _, e in reversed(failures) if e), None) or conn.last_error
                reason = _plain_error(last_error)
                shown = ", ".join(d.isoformat() for d in days[:5]) + (" …" if len(days) > 5 else "")
                what = (f"{len(days)} day(s) could not be downloaded ({shown})" if days
                        else "the last download failed")
                out.append(Alert(DOWNLOAD_FAILED, code, conn.vendor, f"conn:{conn.id}",
                                 f"{who}: {what}{': ' + reason.rstrip('.') if reason else ''}. "
                                 "WearSync tries again at the next run."))
        outage = self._outage_alerts(now)
        # a Polar account not downloaded for 21 days: its newest data is not known, so "no new data" would
        # be a guess; the more urgent data-at-risk alert says what to do
        at_risk = {(a.patient_code, a.vendor) for a in outage if a.kind == DATA_AT_RISK}
        return outage + [a for a in out if not (a.kind == NO_NEW_DATA and (a.patient_code, a.vendor) in at_risk)]

    def _outage_alerts(self, now_utc: dt.datetime) -> list[Alert]:
        """WearSync did not run; a Polar connection about to lose data (services/alerts/outage.py)."""
        days = int(self._settings.get("not_run_alert_days"))
        found = wearsync_not_run(self._db, now_utc, days, self._clock.local_now().tzinfo)
        found += data_at_risk(self._db, now_utc)
        return [Alert(*f) for f in found]

    # ------------------------------------------------------------------ the digest
    def compose(self, alerts: list[Alert], today: dt.date) -> tuple[str, str]:
        counts: dict[str, int] = defaultdict(int)
        for a in alerts:
            counts[a.kind] += 1
        subject = f"WearSync alerts {today.isoformat()}: {_count_phrase(counts)}"
        after_days = int(self._settings.get("alert_after_days"))
        headings = {
            DEVICE_NOT_SYNCED: f"Devices that have not synced for {after_days} days or more",
            NO_NEW_DATA: f"Accounts with no new data for {after_days} days or more",
            NEEDS_RECONSENT: "Connections that need the patient's consent again",
            DOWNLOAD_FAILED: "Downloads that failed",
            DATA_AT_RISK: "Connections whose data will soon be lost for good",
            WEARSYNC_NOT_RUN: "WearSync was not running",
        }
        lines = [f"WearSync alert digest for {today:%A %d %B %Y}.", ""]
        for kind in KIND_ORDER:
            group = [a for a in alerts if a.kind == kind]
            if not group:
                continue
            lines.append(f"{headings[kind]}:")
            lines += [f"  - {a.message}" for a in group]
            lines.append("")
        lines += [
            "Patients are named by their study codes. This e-mail holds no health data.",
            "Each alert is sent once a day while the problem lasts.",
            "To change who receives these e-mails: WearSync → Alerts.",
        ]
        return subject, "\n".join(lines) + "\n"

    def run(self) -> DigestResult:
        """Check, and e-mail one digest of what is new today. Never raises for a mail problem."""
        today = self._clock.local_now().date()
        alerts = self.collect()
        with self._db.session() as s:
            sent_today = set(s.execute(select(AlertSent.kind, AlertSent.subject_key)
                                       .where(AlertSent.day == today)).tuples())
        new = [a for a in alerts if (a.kind, a.subject_key) not in sent_today]
        new = self._not_sent_before(new)
        result = DigestResult(tuple(alerts), tuple(new))
        if not new:
            return result
        recipients = self.recipients() or self._legacy_recipients()
        if not recipients:
            log.warning("%d alert(s) but no recipients", len(new))
            return replace(result, error="No alert recipients are set: add them on the Alerts page of WearSync.")
        subject, body = self.compose(new, today)
        result = replace(result, recipients=tuple(recipients), subject=subject, body=body)
        try:
            self.mailer.send(recipients, subject, body)
        except WearSyncError as exc:
            log.warning("alert digest not sent: %s", exc.message)
            return replace(result, error=exc.message)
        except Exception as exc:  # whatever happens in mail, the sync goes on
            log.exception("alert digest not sent")
            return replace(result, error=f"Sending failed unexpectedly ({type(exc).__name__}).")
        with self._db.session() as s:
            upsert(s, AlertSent, [{"kind": a.kind, "subject_key": a.subject_key, "day": today,
                                   "sent_at": self._utcnow()} for a in new],
                   key=["kind", "subject_key", "day"])
        log.info("alert digest sent: %d alert(s) to %d recipient(s)", len(new), len(recipients))
        return replace(result, sent=True)

    def prune_sent(self, keep_days: int = 60) -> int:
        """Housekeeping: forget which alerts went out more than `keep_days` ago."""
        cutoff = self._clock.local_now().date() - dt.timedelta(days=keep_days)
        with self._db.session() as s:
            old = s.scalars(select(AlertSent).where(AlertSent.day < cutoff)).all()
            for row in old:
                s.delete(row)
        return len(old)

    # -- internals
    def _not_sent_before(self, alerts: list[Alert]) -> list[Alert]:
        """Alerts of ONCE_KINDS already e-mailed on any day are left out."""
        once = [a for a in alerts if a.kind in ONCE_KINDS]
        if not once:
            return alerts
        with self._db.session() as s:
            sent = set(s.execute(select(AlertSent.kind, AlertSent.subject_key).where(
                AlertSent.kind.in_(ONCE_KINDS), AlertSent.subject_key.in_([a.subject_key for a in once]))).tuples())
        return [a for a in alerts if (a.kind, a.subject_key) not in sent]

    def _legacy_recipients(self) -> list[str]:
        """Until recipients are managed in the app, the seed's EMAIL_LIST still works."""
        try:
            raw = self._secrets.get("EMAIL_LIST")
            return [validate_email(a) for a in parse_email_list(raw or "")]
        except WearSyncError as exc:
            log.warning("EMAIL_LIST ignored: %s", exc.message)
            return []

    def _utcnow(self) -> dt.datetime:
        return self._clock.utcnow()


def sync_advice(vendor: str, label: str) -> str:
    """What the coordinator asks the patient to do about a device that has not synced."""
    cls = VENDOR_CLASSES.get(vendor)
    return (cls.device_sync_advice if cls else Vendor.device_sync_advice).format(label=label)


def no_new_data_alerts(s: Session, conns: list[tuple[Connection, str]], today: dt.date, after_days: int) -> list[Alert]:
    """For vendors that report no device sync time (Polar): a connected account whose newest exercise
    or daily activity (with any steps or active time) is `after_days` days old or more. An account with
    no data at all counts from the day it was connected. Connections whose downloads fail are left out:
    the failed-download alert covers them, and their newest data is not known."""
    advice = {name: cls.no_new_data_advice for name, cls in VENDOR_CLASSES.items() if cls.no_new_data_advice}
    quiet_conns = [(c, code) for c, code in conns if c.vendor in advice and c.status == "connected"]
    if not quiet_conns:
        return []
    pids = [c.patient_id for c, _ in quiet_conns]
    newest: dict[tuple[int, str], dt.date] = {}
    queries = (
        select(Exercise.patient_id, Exercise.vendor, func.max(Exercise.local_date))
        .where(Exercise.vendor.in_(advice), Exercise.patient_id.in_(pids))
        .group_by(Exercise.patient_id, Exercise.vendor),
        select(DailyActivity.patient_id, DailyActivity.vendor, func.max(DailyActivity.local_date))
        .where(DailyActivity.vendor.in_(advice), DailyActivity.patient_id.in_(pids),
               or_(DailyActivity.steps > 0, DailyActivity.active_minutes > 0))
        .group_by(DailyActivity.patient_id, DailyActivity.vendor),
    )
    for query in queries:
        for pid, vendor, day in s.execute(query).tuples():
            if day is not None and ((pid, vendor) not in newest or day > newest[(pid, vendor)]):
                newest[(pid, vendor)] = day
    out = []
    for conn, code in quiet_conns:
        since = newest.get((conn.patient_id, conn.vendor)) or (conn.connected_at.date() if conn.connected_at else None)
        if since is None:
            continue
        quiet = (today - since).days
        if quiet < after_days:
            continue
        label = VENDOR_LABELS.get(conn.vendor, conn.vendor)
        out.append(Alert(
            NO_NEW_DATA, code, conn.vendor, f"nodata:{conn.id}",
            f"{code}'s {label} account has had no new exercise or daily activity for {quiet} days: "
            f"{advice[conn.vendor]}",
        ))
    return out


def parse_email_list(raw: str) -> list[str]:
    """The seed's JSON list; a plain comma/semicolon-separated list is accepted too."""
    text = raw.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidInput('EMAIL_LIST must be a list like ["a@clinic.org", "b@clinic.org"].') from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput('EMAIL_LIST must be a list like ["a@clinic.org", "b@clinic.org"].')
        return [v for v in value if v.strip()]
    return [p for p in re.split(r"[,;\s]+", text) if p]


def _plain_error(error: str | None) -> str:
    if not error:
        return ""
    text = " ".join(redact(error).split())
    return text if len(text) <= 160 else text[:157] + "…"


class AlertsHost(Protocol):
    """What the alert service is built from (the facade, `services.app.WearSync`, is one)."""

    @property
    def db(self) -> Database: ...
    @property
    def secrets(self) -> SecretStore: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def environ(self) -> Mapping[str, str]: ...
    @property
    def clock(self) -> Clock: ...


def attach_alerts(app: AlertsHost, clock: Clock | None = None) -> AlertService:
    """Build the alert service on the app's secrets, settings and clock, with the SMTP password checker."""
    mailer = Mailer(app.secrets, app.environ)
    register_checker(app.secrets, mailer)
    return AlertService(app.db, app.secrets, app.settings, mailer, app.audit, clock or app.clock)
