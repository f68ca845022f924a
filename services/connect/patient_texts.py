"""Every word a patient reads on WearSync's web pages, in one place, ready for translation.

The pages a patient meets (the enrolment link's introduction, the page after the vendor's consent,
the pages for links that cannot be used) are written for the patient: second person, plain words,
no product or protocol names, and advice that fits how they got there:

- `enrol`: the patient opened a link the clinic sent them; they can open it again themselves;
- `connect`: a clinic staff member started "Connect here" on the clinic's computer and restarts it.

A translation is another `TEXTS` dictionary with the same keys (and the same `{placeholders}`);
`text()` picks one. Placeholders: `{clinic}` is the clinic's name, or "the clinic" when none is set;
`{Clinic}` is the same at the start of a sentence; `{vendor}` is the vendor's name ("Withings").
"""

from __future__ import annotations

from typing import Final

LANGUAGE: Final = "en"

TEXTS: Final[dict[str, str]] = {
    # --- placeholders when the clinic has not entered its name
    "clinic.unnamed": "the clinic",
    "clinic.unnamed_start": "The clinic",
    "contact.with": "Questions? Contact {clinic}: {contact}",
    "contact.without": "Questions? Contact {clinic}, who asked you to connect.",
    "logo.alt": "{Clinic} logo",
    # --- footers: each says only what is true for its outcome
    "footer.close": "You can close this page.",
    "footer.nothing_shared": "Nothing was shared.",
    "footer.nothing_saved": "Nothing was saved.",
    # --- advice that fits the flow
    "advice.enrol.retry": "Please open the link from {clinic} again.",
    "advice.connect.retry": "Please ask the person from {clinic} who is helping you to start again.",
    "advice.unknown.retry": ("If {clinic} sent you a link, open that link again. If someone from {clinic} is "
                             "helping you, ask them to start again."),
    "advice.enrol.denied": "If this was a mistake, open the link from {clinic} again and allow access.",
    "advice.connect.denied": ("If this was a mistake, tell the person from {clinic} who is helping you; they can "
                              "start again."),
    "advice.keeps_failing": "If it keeps failing, contact {clinic}.",
    # --- the enrolment link's introduction
    "intro.title": "Connect your {vendor} account",
    "intro.why": ("{Clinic} asks you to share data from your {vendor} account, so that your care team can "
                  "follow it without you having to send anything."),
    "intro.data_heading": "What you share",
    "intro.stop_heading": "Stopping",
    "intro.stop": ("You can stop sharing at any time: tell {clinic}, or remove {clinic}'s access in your "
                   "{vendor} account settings."),
    "intro.button": "Continue to {vendor}",
    "intro.next": "{vendor} will ask you to sign in and to allow access. Nothing is shared until you allow it.",
    # --- connected
    "connected.title": "You're connected",
    "connected.body": "Your {vendor} account is now connected to {clinic}. You don't need to send anything yourself.",
    "connected.partial": ("You chose not to share {missing}. {Clinic} receives only the data you allowed. If you "
                          "change your mind, contact {clinic}."),
    "connected.next_heading": "What happens next",
    "connected.stop": ("You can stop sharing at any time: tell {clinic}, or remove {clinic}'s access in your "
                       "{vendor} account settings."),
    "already.title": "You're already connected",
    "already.body": "Your {vendor} account is already connected to {clinic}. There is nothing more to do.",
    # --- not connected
    "denied.title": "Nothing was shared",
    "denied.body": "You chose not to allow access, so nothing was shared with {clinic}.",
    "unfinished.title": "Not connected",
    "unfinished.body": "{vendor} did not finish connecting your account.",
    "failed.title": "Not connected",
    "failed.body": "The connection to {vendor} did not finish.",
    "elsewhere.title": "This account is already in use",
    "elsewhere.body": ("This {vendor} account is already connected for another person at {clinic}, so it was not "
                       "connected again. Each person needs their own {vendor} account. Please contact {clinic}."),
    "different.title": "A different account",
    "different.body": ("You signed in with a different {vendor} account from the one you connected before, so it "
                       "was not saved. Sign in with the same {vendor} account as before, or contact {clinic}."),
    "terms.title": "{vendor} needs your agreement first",
    "terms.body.other": ("{vendor} asks you to accept its data-sharing terms before it can share your data. "
                         "Accept them in your {vendor} account or app, and then come back."),
    "terms.body.polar": ("{vendor} asks you to accept its data-sharing terms before it can share your data. Open the "
                   "Polar Flow app or flow.polar.com, accept the terms in your privacy settings, and then come "
                   "back."),
    # --- the answer from the vendor could not be matched to a connection in progress
    "step.invalid.title": "This page can't finish connecting",
    "step.invalid.body": "This address is incomplete or was not started by {clinic}, so nothing was connected.",
    "step.used.title": "This step was already used",
    "step.used.body": ("This page was already used once. If you saw \u201cYou're connected\u201d, there is "
                       "nothing more to do."),
    "step.expired.title": "The time ran out",
    "step.expired.body": "Connecting took too long, so nothing was connected.",
    # --- enrolment links that cannot be used
    "link.unknown.title": "This link doesn't work",
    "link.unknown.body": ("This link is not valid. Check that you opened the whole link, or ask {clinic} to send "
                          "you a new one."),
    "link.used.title": "This link was already used",
    "link.used.body": ("This link was already used to connect an account. If you need to connect again, ask "
                       "{clinic} for a new link."),
    "link.expired.title": "This link has expired",
    "link.expired.body": "Links from {clinic} only work for a limited time. Ask {clinic} to send you a new one.",
    "link.void.title": "This link is no longer valid",
    "link.void.body": "Ask {clinic} to send you a new one.",
    "link.busy.title": "Please wait a few minutes",
    "link.busy.body": "This link was opened many times in a short while. Wait ten minutes, then open it again.",
    # --- other pages
    "root.title": "Connecting your devices",
    "root.body": ("This page is used by {clinic} to connect health devices. To connect, open the link {clinic} "
                  "sent you."),
    "notfound.title": "Page not found",
    "notfound.body": ("There is nothing at this address. If {clinic} sent you a link, check that you opened the "
                      "whole link."),
    "gone.title": "This page is no longer available",
    "gone.body": ("This page was shown once and is not kept. If you have a question about your connection, "
                  "contact {clinic}."),
    "error.title": "Something went wrong",
    "error.body": "Please try again in a few minutes. If it keeps happening, contact {clinic}.",
    # --- what each vendor shares, in plain words (generic lines for a vendor not listed)
    "data.fitbit": ("Your steps and activity|Your heart rate, including your resting heart rate|"
                    "Your sleep: how long and in which sleep stages|Which Fitbit devices you use, and your time zone"),
    "data.withings": ("Your sleep: how long, sleep stages, breathing and snoring|Your heart rate|"
                      "Your activity and body measurements such as weight|Which Withings devices you use"),
    "data.polar": "Your workouts, with your heart rate during them|Your daily activity|Which Polar devices you use",
    "data.other": "The health data your {vendor} devices record|Which {vendor} devices you use",
    "intro.note.fitbit": "You sign in with the Google account that your Fitbit uses.",
    "intro.note.polar": "Only what you record from today on is shared; earlier recordings are not.",
    "next.fitbit": "Keep wearing your Fitbit and open the Fitbit app on your phone every few days so it can sync.",
    "next.withings": "Keep your Withings device set up as usual, with the Withings app signed in, so it keeps syncing.",
    "next.polar": ("After each recording, sync your Polar device with the Polar Flow app. Only what you record from "
                   "today on is shared; earlier recordings are not."),
    "next.other": "Keep using your {vendor} device and its app as usual, so it keeps syncing.",
    # --- data a patient may leave out on the consent page (Fitbit through Google asks per type)
    "scope.activity": "your steps and activity",
    "scope.heart": "your heart rate",
    "scope.sleep": "your sleep",
    "scope.settings": "your devices and time zone",
    "list.and": " and ",
}

# The vendors' own names for the data a patient can leave out, mapped to the keys above.
SCOPE_KEYS: Final[dict[str, str]] = {
    "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly": "scope.activity",
    "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly": "scope.heart",
    "https://www.googleapis.com/auth/googlehealth.sleep.readonly": "scope.sleep",
    "https://www.googleapis.com/auth/googlehealth.settings.readonly": "scope.settings",
}

TRANSLATIONS: dict[str, dict[str, str]] = {LANGUAGE: TEXTS}


def text(key: str, language: str = LANGUAGE, **values: str) -> str:
    """The text for `key` with its placeholders filled (falls back to English for a missing key)."""
    template = TRANSLATIONS.get(language, TEXTS).get(key) or TEXTS[key]
    return template.format(**values) if values else template


def lines(key: str, language: str = LANGUAGE, **values: str) -> tuple[str, ...]:
    """A text that is a list (items separated by `|`)."""
    return tuple(part for part in text(key, language, **values).split("|") if part)


def vendor_key(prefix: str, vendor: str, language: str = LANGUAGE) -> str:
    """`prefix.<vendor>` when that text exists, else `prefix.other`."""
    key = f"{prefix}.{vendor}"
    return key if key in TRANSLATIONS.get(language, TEXTS) or key in TEXTS else f"{prefix}.other"


def missing_data(scopes: tuple[str, ...], plain: dict[str, str], language: str = LANGUAGE) -> str:
    """'your heart rate and your sleep' for the scopes a patient left out (`plain` names the others)."""
    words = [text(SCOPE_KEYS[s], language) if s in SCOPE_KEYS else plain.get(s, s) for s in scopes]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + text("list.and", language) + words[-1]
