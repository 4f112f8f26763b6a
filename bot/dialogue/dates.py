"""Read a day of the year from what a parent types: "15 March", "March 15th", "15/03"...

Only the day and month are kept ("03-15"), never the words typed. Numeric dates are read
day first, as in the UK.
"""

from __future__ import annotations

import re

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_DAY_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?(?:\s+of)?\s+([a-z]+)\b")
_MONTH_DAY = re.compile(r"\b([a-z]+)\s+(\d{1,2})(?:st|nd|rd|th)?\b")
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})[/.\-](\d{1,2})(?:[/.\-](\d{2,4}))?\b")


def parse_day_month(text: str) -> str | None:
    """'MM-DD' for the first date found in ``text``, or None."""
    lowered = text.lower()[:200]
    m = _ISO.search(lowered)
    if m:
        return _valid(int(m.group(2)), int(m.group(3)))
    for m in _DAY_MONTH.finditer(lowered):
        if m.group(2) in MONTHS:
            return _valid(MONTHS[m.group(2)], int(m.group(1)))
    for m in _MONTH_DAY.finditer(lowered):
        if m.group(1) in MONTHS:
            return _valid(MONTHS[m.group(1)], int(m.group(2)))
    m = _NUMERIC.search(lowered)
    if m:
        return _valid(int(m.group(2)), int(m.group(1)))
    return None


def _valid(month: int, day: int) -> str | None:
    if 1 <= month <= 12 and 1 <= day <= DAYS_IN_MONTH[month - 1]:
        return f"{month:02d}-{day:02d}"
    return None
