"""The web pages a patient sees (through the tunnel, often on a phone): what each outcome says, and HTML.

Every page shows the clinic (name, optional logo, contact) from the non-secret settings, says only
what is true for its outcome, and never names another patient. The words live in `patient_texts`.
Pages are self-contained: no script, no external resource; the only images are the favicon and the
clinic's logo, served by the listener itself.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any, Final, Literal

from services.connect.patient_texts import LANGUAGE, TEXTS, lines, missing_data, text, vendor_key
from services.errors import WearSyncError
from services.settings import LOGO_MAX_BYTES

PAGES_DIR = Path(__file__).resolve().parents[2] / "resources" / "callback"
FAVICON = Path(__file__).resolve().parents[2] / "resources" / "icons" / "app.svg"
LOGO_PATH = "/clinic-logo"
LOGO_TYPES: Final = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}

# Sent with every answer of the listener (it is what the public tunnel shows): no script, no framing,
# no sniffing; the pages' one inline <style> and their own images are all they may use.
SECURITY_HEADERS: Final = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),  # addresses hold one-time codes
    ("Cache-Control", "no-store"),
)

Kind = Literal["success", "problem", "info"]
Purpose = Literal["enrol", "connect"]


@dataclass(frozen=True)
class Clinic:
    """Who the patient is dealing with, as entered in Settings (all optional)."""

    name: str = ""
    contact: str = ""
    logo: str = ""  # a PNG or JPEG file on this computer

    @classmethod
    def from_settings(cls, settings: Any) -> Clinic:
        return cls(str(settings.get("clinic_name") or "").strip(), str(settings.get("clinic_contact") or "").strip(),
                   str(settings.get("clinic_logo") or "").strip())

    def words(self) -> dict[str, str]:
        if self.name:
            return {"clinic": self.name, "Clinic": self.name}
        return {"clinic": text("clinic.unnamed"), "Clinic": text("clinic.unnamed_start")}

    def logo_file(self) -> tuple[bytes, str] | None:
        """The logo's bytes and content type, or None when there is none usable."""
        if not self.logo:
            return None
        path = Path(self.logo)
        ctype = LOGO_TYPES.get(path.suffix.lower())
        try:
            if ctype is None or not path.is_file() or path.stat().st_size > LOGO_MAX_BYTES:
                return None
            return path.read_bytes(), ctype
        except OSError:
            return None


@dataclass(frozen=True)
class Section:
    heading: str
    items: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class Page:
    ok: bool
    title: str
    message: str
    kind: Kind | None = None  # default: success when ok, else problem
    notes: tuple[str, ...] = ()  # more paragraphs under the message
    sections: tuple[Section, ...] = ()
    action: tuple[str, str] | None = field(default=None, repr=False)  # (button text, address)
    action_note: str = ""
    footer: str = ""
    status: int = 0  # HTTP status; 0 = 200 when ok, else 400

    @property
    def http_status(self) -> int:
        return self.status or (200 if self.ok else 400)

    @property
    def look(self) -> Kind:
        return self.kind or ("success" if self.ok else "problem")

    def text(self) -> str:
        """Everything the page says, as plain text (for logs of tests and for searching)."""
        parts = [self.title, self.message, *self.notes]
        for s in self.sections:
            parts += [s.heading, s.text, *s.items]
        if self.action:
            parts.append(self.action[0])
        parts += [self.action_note, self.footer]
        return "\n".join(p for p in parts if p)


class PatientPageError(WearSyncError):
    """A refusal whose answer to the patient is a whole page (the message is for the coordinator)."""

    def __init__(self, message: str, page: Page) -> None:
        super().__init__(message, title=page.title)
        self.page = page


# ---------------------------------------------------------------------- the outcomes
def intro(clinic: Clinic, vendor: str, label: str, continue_href: str) -> Page:
    w = clinic.words() | {"vendor": label}
    notes = (text("intro.note." + vendor, **w),) if f"intro.note.{vendor}" in TEXTS else ()
    return Page(
        True, text("intro.title", **w), text("intro.why", **w), kind="info",
        sections=(Section(text("intro.data_heading", **w), lines(vendor_key("data", vendor), **w)),
                  Section(text("intro.stop_heading", **w), text=text("intro.stop", **w))),
        notes=notes, action=(text("intro.button", **w), continue_href), action_note=text("intro.next", **w))


def connected(clinic: Clinic, vendor: str, label: str, missing: tuple[str, ...] = (),
              plain: dict[str, str] | None = None) -> Page:
    w = clinic.words() | {"vendor": label}
    notes = (text("connected.partial", missing=missing_data(missing, plain or {}), **w),) if missing else ()
    steps = (text(vendor_key("next", vendor), **w), text("connected.stop", **w))
    return Page(True, text("connected.title", **w), text("connected.body", **w), notes=notes,
                sections=(Section(text("connected.next_heading", **w), steps),), footer=text("footer.close"))


def already_connected(clinic: Clinic, label: str) -> Page:
    w = clinic.words() | {"vendor": label}
    return Page(True, text("already.title", **w), text("already.body", **w), footer=text("footer.close"))


def denied(clinic: Clinic, label: str, purpose: Purpose) -> Page:
    w = clinic.words() | {"vendor": label}
    return Page(False, text("denied.title", **w), text("denied.body", **w),
                notes=(text(f"advice.{purpose}.denied", **w),), footer=text("footer.nothing_shared"))


def not_connected(clinic: Clinic, vendor: str, label: str, purpose: Purpose,
                  reason: Literal["unfinished", "failed", "elsewhere", "different", "terms"]) -> Page:
    """The vendor's answer came back but no connection was made; nothing was saved."""
    w = clinic.words() | {"vendor": label}
    notes: tuple[str, ...] = ()
    if reason in ("unfinished", "failed", "terms"):
        notes = (text(f"advice.{purpose}.retry", **w),)
    if reason == "failed":
        notes += (text("advice.keeps_failing", **w),)
    body = text(vendor_key("terms.body", vendor) if reason == "terms" else f"{reason}.body", **w)
    return Page(False, text(f"{reason}.title", **w), body, notes=notes, footer=text("footer.nothing_saved"))


def step_problem(clinic: Clinic, reason: Literal["invalid", "used", "expired"], purpose: Purpose | None) -> Page:
    """The vendor's answer does not belong to a connection in progress (unknown, used or expired)."""
    w = clinic.words()
    advice = text(f"advice.{purpose}.retry" if purpose else "advice.unknown.retry", **w)
    footer = "" if reason == "used" else text("footer.nothing_saved")
    return Page(False, text(f"step.{reason}.title", **w), text(f"step.{reason}.body", **w), notes=(advice,),
                footer=footer)


def link_problem(clinic: Clinic, reason: Literal["unknown", "used", "expired", "void", "busy"]) -> Page:
    w = clinic.words()
    return Page(False, text(f"link.{reason}.title", **w), text(f"link.{reason}.body", **w),
                kind="info" if reason == "busy" else None,
                status={"unknown": 404, "busy": 429}.get(reason, 410))


def simple(clinic: Clinic, key: Literal["root", "notfound", "gone", "error"]) -> Page:
    w = clinic.words()
    if key == "gone":
        return Page(False, text("gone.title", **w), text("gone.body", **w), kind="info", status=404)
    status = {"root": 200, "notfound": 404, "error": 500}[key]
    return Page(key == "root", text(f"{key}.title", **w), text(f"{key}.body", **w),
                kind="info" if key == "root" else "problem", status=status)


# ---------------------------------------------------------------------- HTML
_MARKS: Final = {"success": "&#10004;", "problem": "!", "info": "i"}


def render(page: Page, clinic: Clinic) -> bytes:
    def e(value: str) -> str:  # text between tags: quotes stay as they are ("You're connected")
        return html.escape(value, quote=False)

    w = clinic.words()
    head = ""  # the clinic's logo and name, side by side; the mark says how it went (none on the introduction)
    if clinic.logo_file() is not None:
        alt = "" if clinic.name else text("logo.alt", **w)  # beside the name, the logo says nothing more
        head += f'<img class="logo" src="{LOGO_PATH}" alt="{html.escape(alt)}">'
    if clinic.name:
        head += f'<p class="clinic">{e(clinic.name)}</p>'
    body = f"<p>{e(page.message)}</p>" + "".join(f"<p>{e(n)}</p>" for n in page.notes)
    for s in page.sections:
        body += f"<h2>{e(s.heading)}</h2>"
        if s.text:
            body += f"<p>{e(s.text)}</p>"
        if s.items:
            body += "<ul>" + "".join(f"<li>{e(i)}</li>" for i in s.items) + "</ul>"
    if page.action is not None:
        label, href = page.action
        body += f'<p class="go"><a class="button" href="{html.escape(href)}">{e(label)}</a></p>'
    if page.action_note:
        body += f'<p class="small">{e(page.action_note)}</p>'
    if page.footer:
        body += f'<p class="small footer">{e(page.footer)}</p>'
    contact = (text("contact.with", contact=clinic.contact, **w) if clinic.contact
               else text("contact.without", **w))
    template = Template((PAGES_DIR / "page.html").read_text(encoding="utf-8"))
    mark = "" if page.action else f'<div class="mark" aria-hidden="true">{_MARKS[page.look]}</div>'
    return template.substitute(
        lang=LANGUAGE, look=page.look, mark=mark, title=e(page.title), head=head, body=body, contact=e(contact),
    ).encode("utf-8")


def favicon() -> bytes:
    return FAVICON.read_bytes()
