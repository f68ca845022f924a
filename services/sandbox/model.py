"""Sandbox accounts and the deterministic, lazily generated physiology behind them.

Everything here is pure: a day of data is a function of (seed, username, time zone, local date,
options) and is cached, so 200 users x 30 days cost nothing until a client asks for them.
All values are invented.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

VENDORS = ("fitbit", "withings", "polar")


def stable_int(*parts: object, modulo: int = 2**31) -> int:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % modulo


def rng_for(*parts: object) -> random.Random:
    return random.Random("|".join(str(p) for p in parts))


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_epoch(tz_name: str, day: date, minutes: int = 0) -> int:
    """Epoch seconds of local wall time ``day 00:00 + minutes`` (fold=0 for ambiguous times)."""
    wall = datetime(day.year, day.month, day.day, tzinfo=zone(tz_name)) + timedelta(minutes=minutes)
    return int(wall.timestamp())


def to_local(tz_name: str, epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, zone(tz_name))


def utc_offset_seconds(tz_name: str, epoch: float) -> int:
    off = to_local(tz_name, epoch).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


@dataclass
class SandboxUser:
    """A vendor account a demo patient "logs in" with. Mutable on purpose: tests tweak it."""

    vendor: str
    username: str
    timezone: str
    days: int
    today: date
    seed: int
    display_name: str
    device: str
    wear_gaps: bool = True
    consents_accepted: bool = True  # Polar: has the user accepted AccessLink consents in Flow?
    registered: bool = False  # Polar: registered through POST /v3/users
    member_id: str | None = None
    registration_time: datetime | None = None
    last_sync: datetime = datetime(1970, 1, 1, tzinfo=UTC)  # the server sets it
    battery_level: int = 80

    @property
    def first_day(self) -> date:
        """First local day with data (Polar: treated as the date the account was registered)."""
        return self.today - timedelta(days=self.days)

    @property
    def user_id(self) -> str:
        """Google healthUserId / Withings userid / Polar x_user_id (digits), stable per seed."""
        if self.vendor == "fitbit":
            return f"{stable_int(self.seed, self.vendor, self.username, modulo=2**63):x}".rjust(16, "0")
        return str(10_000_000 + stable_int(self.seed, self.vendor, self.username, modulo=89_999_999))

    @property
    def legacy_user_id(self) -> str:
        n = stable_int(self.seed, "legacy", self.username, modulo=36**6)
        chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        out = ""
        for _ in range(6):
            n, r = divmod(n, 36)
            out = chars[r] + out
        return out

    @property
    def last_sync_epoch(self) -> int:
        return int(self.last_sync.timestamp())

    def data_days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(self.days + 1)]


# --------------------------------------------------------------------------------------------
# Sleep


@dataclass(frozen=True)
class Stage:
    start: int
    end: int
    kind: str  # AWAKE LIGHT DEEP REM (STAGES) or AWAKE ASLEEP RESTLESS (CLASSIC)


@dataclass(frozen=True)
class SleepSession:
    day: date  # local date on which the session ends (the vendors date a night by its morning)
    start: int
    end: int
    stages: tuple[Stage, ...]
    classic: bool
    nap: bool


def _merge(stages: list[Stage]) -> tuple[Stage, ...]:
    out: list[Stage] = []
    for s in stages:
        if s.end <= s.start:
            continue
        if out and out[-1].kind == s.kind and out[-1].end == s.start:
            out[-1] = Stage(out[-1].start, s.end, s.kind)
        else:
            out.append(s)
    return tuple(out)


@lru_cache(maxsize=8192)
def main_sleep(seed: int, username: str, tz_name: str, day: date) -> SleepSession:
    rng = rng_for(seed, username, day, "sleep")
    bed = local_epoch(tz_name, day - timedelta(days=1), 22 * 60 + rng.randint(0, 150))
    wake = local_epoch(tz_name, day, 5 * 60 + 45 + rng.randint(0, 105))
    classic = rng.random() < 0.1
    stages: list[Stage] = []
    t = bed + rng.randint(4, 25) * 60
    stages.append(Stage(bed, t, "AWAKE"))
    cycle = 0
    while t < wake:
        seq = [
            ("LIGHT", rng.randint(15, 35)),
            ("DEEP", rng.randint(15, 45) if cycle < 2 else rng.randint(5, 20)),
            ("LIGHT", rng.randint(5, 20)),
            ("REM", rng.randint(5, 15) if cycle < 1 else rng.randint(10, 35)),
        ]
        if rng.random() < 0.4:
            seq.append(("AWAKE", rng.randint(1, 8)))
        for kind, minutes in seq:
            end = min(t + minutes * 60, wake)
            stages.append(Stage(t, end, kind))
            t = end
            if t >= wake:
                break
        cycle += 1
    if classic:
        mapped = [
            Stage(
                s.start,
                s.end,
                "AWAKE"
                if s.kind == "AWAKE"
                else ("RESTLESS" if s.kind == "REM" and (s.end - s.start) < 900 else "ASLEEP"),
            )
            for s in stages
        ]
        stages = mapped
    return SleepSession(day, bed, wake, _merge(stages), classic, False)


@lru_cache(maxsize=8192)
def nap(seed: int, username: str, tz_name: str, day: date) -> SleepSession | None:
    rng = rng_for(seed, username, day, "nap")
    if rng.random() >= 0.08:
        return None
    start = local_epoch(tz_name, day, 13 * 60 + 30 + rng.randint(0, 120))
    end = start + rng.randint(20, 60) * 60
    mid = start + (end - start) // 2
    stages = [
        Stage(start, start + 300, "AWAKE"),
        Stage(start + 300, mid, "ASLEEP"),
        Stage(mid, mid + 120, "RESTLESS"),
        Stage(mid + 120, end, "ASLEEP"),
    ]
    return SleepSession(day, start, end, _merge(stages), True, True)


def sleeps_ending_on(seed: int, username: str, tz_name: str, day: date) -> list[SleepSession]:
    out = [main_sleep(seed, username, tz_name, day)]
    n = nap(seed, username, tz_name, day)
    if n is not None:
        out.append(n)
    return out


# --------------------------------------------------------------------------------------------
# Minute-level day data (heart rate samples, steps)


@dataclass(frozen=True)
class DayData:
    day: date
    start: int  # epoch of local midnight
    end: int  # epoch of next local midnight (1380 / 1440 / 1500 minutes later)
    hr: tuple[tuple[int, int], ...]  # (epoch, bpm), about one per minute while worn
    steps: tuple[
        tuple[int, int], ...
    ]  # (interval start epoch, count) 1-minute intervals, zero minutes absent
    resting_hr: int


_STAGE_HR = {"DEEP": -6, "LIGHT": -2, "REM": 3, "AWAKE": 7, "ASLEEP": -2, "RESTLESS": 4}


def base_resting_hr(seed: int, username: str) -> int:
    return 52 + stable_int(seed, username, "rest", modulo=16)


@lru_cache(maxsize=4096)
def day_data(seed: int, username: str, tz_name: str, day: date, wear_gaps: bool) -> DayData:
    start = local_epoch(tz_name, day)
    end = local_epoch(tz_name, day + timedelta(days=1))
    n = (end - start) // 60
    rng = rng_for(seed, username, day, "day")
    rest = base_resting_hr(seed, username) + rng.randint(-3, 3)

    stage_at: list[str | None] = [None] * n
    sessions = [
        main_sleep(seed, username, tz_name, day),
        main_sleep(seed, username, tz_name, day + timedelta(days=1)),
    ]
    naps = nap(seed, username, tz_name, day)
    if naps is not None:
        sessions.append(naps)
    for sess in sessions:
        for st in sess.stages:
            a = max(0, (st.start - start) // 60)
            b = min(n, -(-(st.end - start) // 60))
            for i in range(a, b):
                stage_at[i] = st.kind

    worn = [True] * n
    if wear_gaps:
        wake_i = (sessions[0].end - start) // 60
        gaps = [(wake_i + 5, rng.randint(10, 25))]
        for _ in range(rng.randint(0, 2)):
            gaps.append((rng.randint(9 * 60, 20 * 60), rng.randint(15, 120)))
        for a, length in gaps:
            for i in range(max(0, a), min(n, a + length)):
                worn[i] = False

    walking = [0] * n
    for _ in range(rng.randint(6, 14)):
        a = rng.randint(7 * 60, 21 * 60)
        cadence = rng.randint(80, 120)
        for i in range(a, min(n, a + rng.randint(5, 40))):
            walking[i] = cadence

    hr: list[tuple[int, int]] = []
    steps: list[tuple[int, int]] = []
    sec = rng.randint(0, 59)
    gauss = rng.gauss
    rand = rng.random
    for i in range(n):
        if not worn[i]:
            continue
        t = start + 60 * i
        kind = stage_at[i]
        if kind is not None:
            bpm = rest - 3 + _STAGE_HR[kind] + gauss(0, 1.5)
        else:
            act = walking[i]
            bpm = rest + 14 + act * 0.35 + gauss(0, 3)
            if act:
                steps.append((t, max(1, int(act + gauss(0, 6)))))
            elif rand() < 0.15:
                steps.append((t, 1 + int(rand() * 25)))
        hr.append((t + (sec + 7 * i) % 60, max(38, min(190, round(bpm)))))
    return DayData(day, start, end, tuple(hr), tuple(steps), rest)


# --------------------------------------------------------------------------------------------
# Withings sleep detail (per-minute hr / rr / snoring during a session)


@dataclass(frozen=True)
class WithingsNight:
    session: SleepSession
    hr: tuple[tuple[int, int], ...]
    rr: tuple[tuple[int, int], ...]
    snoring: tuple[tuple[int, int], ...]
    missing: frozenset[str]  # summary fields the mat could not compute that night
    sleep_score: int
    ahi: int


@lru_cache(maxsize=4096)
def withings_night(seed: int, username: str, tz_name: str, day: date) -> WithingsNight:
    sess = main_sleep(seed, username, tz_name, day)
    rng = rng_for(seed, username, day, "withings")
    rest = base_resting_hr(seed, username)
    hr: list[tuple[int, int]] = []
    rr: list[tuple[int, int]] = []
    sn: list[tuple[int, int]] = []
    snorer = rng.random() < 0.5
    for st in sess.stages:
        for t in range(st.start, st.end, 60):
            if rng.random() < 0.03:
                continue  # mat lost the signal for this minute
            hr.append((t, max(40, round(rest - 3 + _STAGE_HR.get(st.kind, 0) + rng.gauss(0, 1.5)))))
            rr.append((t, max(8, round(14 + rng.gauss(0, 1.2)))))
            loud = snorer and st.kind in ("LIGHT", "ASLEEP") and rng.random() < 0.2
            sn.append((t, rng.randint(5, 50) if loud else 0))
    missing: set[str] = set()
    if rng.random() < 0.12:
        missing.add("sleep_score")
    if rng.random() < 0.1:
        missing.update({"rr_average", "rr_min", "rr_max"})
    if rng.random() < 0.15:
        missing.update({"snoring", "snoringepisodecount"})
    if rng.random() < 0.5:
        missing.add("apnea_hypopnea_index")
    if rng.random() < 0.05:
        missing.add("remsleepduration")
    return WithingsNight(
        sess, tuple(hr), tuple(rr), tuple(sn), frozenset(missing), rng.randint(55, 92), rng.randint(0, 12)
    )


@dataclass(frozen=True)
class Measure:
    epoch: int
    weight_g: int
    pulse: int


@lru_cache(maxsize=4096)
def withings_measure(seed: int, username: str, tz_name: str, day: date) -> Measure | None:
    rng = rng_for(seed, username, day, "measure")
    if rng.random() > 0.7:
        return None
    base = 60_000 + stable_int(seed, username, "weight", modulo=35_000)
    t = main_sleep(seed, username, tz_name, day).end + rng.randint(10, 40) * 60
    return Measure(t, base + rng.randint(-800, 800), base_resting_hr(seed, username) + rng.randint(5, 20))


# --------------------------------------------------------------------------------------------
# Polar exercises (H10 strap, 1-second HR samples)

SPORTS = ("RUNNING", "CYCLING", "WALKING", "OTHER")


@dataclass(frozen=True)
class Exercise:
    id: str
    day: date
    start: int
    duration: int  # seconds
    sport: str
    hr_samples: tuple[int, ...]  # one per second, 0 = no signal
    upload: int
    calories: int
    distance: float
    stringly: bool  # serialize some numbers as strings (as live responses sometimes do)

    @property
    def end(self) -> int:
        return self.start + self.duration


@lru_cache(maxsize=4096)
def polar_exercise(seed: int, username: str, tz_name: str, day: date) -> Exercise | None:
    rng = rng_for(seed, username, day, "exercise")
    if rng.random() >= 0.45:
        return None
    start = local_epoch(tz_name, day, 17 * 60 + rng.randint(0, 150))
    duration = rng.randint(1500, 4800)
    sport = rng.choice(SPORTS)
    rest = base_resting_hr(seed, username)
    peak = rng.randint(140, 175)
    samples: list[int] = []
    lead = rng.randint(0, 20)
    level = float(rest + 20)
    for s in range(duration):
        if s < lead or rng.random() < 0.004:
            samples.append(0)
            continue
        target = peak if s < duration - 300 else rest + 30
        level += (target - level) * 0.004 + rng.gauss(0, 0.6)
        samples.append(max(45, min(205, round(level))))
    ex_id = hashlib.sha256(f"{seed}|{username}|{day}".encode()).hexdigest()[:10].upper()
    return Exercise(
        ex_id,
        day,
        start,
        duration,
        sport,
        tuple(samples),
        start + duration + rng.randint(300, 7200),
        duration // 60 * rng.randint(8, 13),
        round(duration * rng.uniform(1.5, 3.2), 1),
        rng.random() < 0.35,
    )
