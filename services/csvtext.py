"""Text cells for CSV files a person opens in a spreadsheet (data exports, the audit trail)."""

from __future__ import annotations

# a spreadsheet reads a cell that starts with one of these as a formula (CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def safe_text(value: str) -> str:
    """Free text as a spreadsheet shows it: a leading apostrophe where it would start a formula; a number
    (a negative one too) stays a number."""
    if value and value[0] in FORMULA_START and not _is_number(value):
        return "'" + value
    return value
