"""Passwords: argon2id hashing, the rule users are asked to follow, and temporary passwords.

The rule favours length over symbols (NIST SP 800-63B style): at least 12 characters — a few
unrelated words make a good one — not on the common-passwords list (also with digits or symbols
tacked on either end), not containing the username, and not one or two characters repeated.
Messages say what to do, not what the policy is called.
"""

from __future__ import annotations

import functools
import secrets
import string
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 takes any length; the cap only keeps a pasted novel from costing CPU
MIN_DISTINCT = 5
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parents[2] / "resources" / "common_passwords.txt"

# argon2-cffi's defaults are RFC 9106's low-memory profile (argon2id, 64 MiB, t=3). Tests swap in a
# cheaper hasher; a hash made with other parameters is upgraded at the next successful sign-in.
HASHER = PasswordHasher()

# A readable alphabet for temporary passwords: no 0/O, 1/l/I to misread over the phone.
_TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> tuple[bool, str | None]:
    """(matches, new hash to store if the parameters changed since `stored_hash` was made)."""
    hasher = HASHER
    try:
        hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    if hasher.check_needs_rehash(stored_hash):
        return True, hasher.hash(password)
    return True, None


def burn_verify(password: str) -> None:
    """Spend the time a real verification takes, so an unknown username answers as slowly as a
    known one with a wrong password (no way to tell which usernames exist by timing)."""
    verify_password(_dummy_hash(HASHER.time_cost, HASHER.memory_cost, HASHER.parallelism), password)


@functools.lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return HASHER.hash(secrets.token_urlsafe(24))


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _core(password: str) -> str:
    """The password without the digits and symbols people add at either end ('Summer2024!' -> 'summer')."""
    keep = string.ascii_letters
    text = password.lower()
    start = 0
    while start < len(text) and text[start] not in keep:
        start += 1
    end = len(text)
    while end > start and text[end - 1] not in keep:
        end -= 1
    return text[start:end]


def password_problem(password: str, username: str = "") -> str | None:
    """What is wrong with `password` and how to fix it, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return (
            f"Use at least {MIN_LENGTH} characters (this one has {len(password)}). Length matters more "
            "than symbols: a few unrelated words with spaces make a strong password that is easy to type."
        )
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if password != password.strip():
        return "Remove the spaces at the start or end of the password (spaces between words are fine)."
    if len(set(password.lower())) < MIN_DISTINCT:
        return "Use more different characters; a repeated character or pattern is easy to guess."
    lowered = password.lower()
    name = username.strip().lower()
    if len(name) >= 3 and name in lowered:
        return "The password must not contain the username. Choose something unrelated."
    common = common_passwords()
    compact = lowered.replace(" ", "")
    core = _core(password)
    if lowered in common or compact in common or (len(core) >= 4 and core in common):
        return (
            "This password is on the list of common passwords that attackers try first. Choose "
            "something less predictable, for example a few unrelated words."
        )
    return None


def check_password(password: str, username: str = "") -> None:
    """Raise InvalidInput with a message that says what to do when `password` breaks the rule."""
    problem = password_problem(password, username)
    if problem is not None:
        raise InvalidInput(problem, title="Choose another password")


def temporary_password(username: str = "") -> str:
    """A one-time password an admin reads out or sends; the user must change it at first sign-in."""
    while True:
        raw = "".join(secrets.choice(_TEMP_ALPHABET) for _ in range(16))
        candidate = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
        if password_problem(candidate, username) is None:
            return candidate
