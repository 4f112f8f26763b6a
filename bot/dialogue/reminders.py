"""Which reminders a parent asked for, and when each is due, in their own time zone. Pure.

Parents choose reminders through the dialogue, which sets variables on their session:

- ``remind_wave_of_light: "yes"``: 15 October at 7pm, the Wave of Light.
- ``remind_awareness_week: "yes"``: 9 October at 10am, the start of Baby Loss Awareness Week.
- ``check_in: "week" | "month" | "never"``: a gentle check-in that long after choosing.
- ``anniversary: "MM-DD"`` (captured from the date they typed) with
  ``remind_anniversary: "yes"``: 10am on that day each year.
- ``timezone``: an IANA name such as ``Europe/London``; otherwise one for their region.

A reminder that fell due while the bot was down is still sent if it is the same day for
the parent; the Wave of Light only within its hour (7 to 8pm). Otherwise it is dropped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WAVE, WEEK, CHECK_IN, ANNIVERSARY = "wave_of_light", "awareness_week", "check_in", "anniversary"
YEARLY = {WAVE: ((10, 15), dt.time(19, 0)), WEEK: ((10, 9), dt.time(10, 0))}
MORNING = dt.time(10, 0)  # check-ins and anniversaries: never at night
CHECK_IN_DAYS = {"week": 7, "month": 30}
SEND_WINDOW = {WAVE: dt.timedelta(hours=1)}  # otherwise: until the end of that local day
REGION_ZONES = {"uk": "Europe/London", "us": "America/New_York", "au": "Australia/Sydney"}
DEFAULT_ZONE = "Europe/London"
# The variables that say which reminders a parent wants (for noticing a change).
PREFERENCE_VARIABLES = (
    "remind_wave_of_light",
    "remind_awareness_week",
    "check_in",
    "anniversary",
    "remind_anniversary",
    "timezone",
    "region",
)


@dataclass(frozen=True)
class Due:
    kind: str
    at: dt.datetime  # aware, UTC
    zone: str


def zone_for(variables) -> str:
    """The parent's time zone: their choice, else their region's, else UK time."""
    for name in (variables.get("timezone"), REGION_ZONES.get(str(variables.get("region")))):
        if name:
            try:
                ZoneInfo(str(name))
                return str(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return DEFAULT_ZONE


def wanted_kinds(variables) -> set[str]:
    out = set()
    if _yes(variables.get("remind_wave_of_light")):
        out.add(WAVE)
    if _yes(variables.get("remind_awareness_week")):
        out.add(WEEK)
    if str(variables.get("check_in", "")) in CHECK_IN_DAYS:
        out.add(CHECK_IN)
    if _yes(variables.get("remind_anniversary")) and _month_day(variables.get("anniversary")):
        out.add(ANNIVERSARY)
    return out


def next_due(kind: str, variables, now: dt.datetime) -> Due | None:
    """When ``kind`` is next due for this parent, strictly after ``now`` (aware UTC)."""
    zone = zone_for(variables)
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz)
    if kind == CHECK_IN:
        days = CHECK_IN_DAYS.get(str(variables.get("check_in", "")))
        if days is None:
            return None
        day = local_now.date() + dt.timedelta(days=days)
        return Due(kind, _at(day, MORNING, tz), zone)
    if kind in YEARLY:
        (month, day_of_month), time = YEARLY[kind]
    elif kind == ANNIVERSARY:
        parsed = _month_day(variables.get("anniversary"))
        if parsed is None:
            return None
        (month, day_of_month), time = parsed, MORNING
    else:
        return None
    for year in (local_now.year, local_now.year + 1):
        at = _at(_date_in(year, month, day_of_month), time, tz)
        if at > now:
            return Due(kind, at, zone)
    return None  # pragma: no cover - next year is always in the future


def still_sendable(kind: str, due: dt.datetime, zone: str, now: dt.datetime) -> bool:
    """May a reminder due at ``due`` go out at ``now``? Same local day, and within the
    kind's window: a Wave of Light message after the Wave would be worse than none."""
    if now < due:
        return False
    tz = ZoneInfo(zone)
    if now.astimezone(tz).date() != due.astimezone(tz).date():
        return False
    window = SEND_WINDOW.get(kind)
    return window is None or now < due + window


def stop_variables(kind: str) -> dict[str, str]:
    """The variables that switch one kind of reminder off."""
    return {
        WAVE: {"remind_wave_of_light": "no"},
        WEEK: {"remind_awareness_week": "no"},
        CHECK_IN: {"check_in": "never"},
        ANNIVERSARY: {"remind_anniversary": "no"},
    }[kind]


def _at(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    # zoneinfo resolves the local wall-clock time, summer time included, then we keep UTC.
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(dt.UTC)


def _date_in(year: int, month: int, day: int) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:  # 29 February in a year without one: the 28th
        return dt.date(year, month, day - 1)


def _month_day(value) -> tuple[int, int] | None:
    try:
        month, day = (int(part) for part in str(value).split("-"))
        dt.date(2024, month, day)  # a leap year, so 02-29 is allowed
        return month, day
    except (ValueError, TypeError):
        return None


def _yes(value) -> bool:
    return str(value).lower() in ("yes", "true")
