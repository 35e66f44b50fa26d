"""Time zone helpers: the one place that turns a calendar day into UTC bounds."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_timezone(name: str) -> None:
    if name not in known_timezones():
        raise ValidationError(f"'{name}' is not an IANA time zone name (e.g. Europe/Paris).")


def day_bounds(day: dt.date, timezone_name: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants at which `day` starts and ends in the given time zone.

    The day lasts 23 or 25 hours across a DST change: both ends are local midnights.
    """
    zone = ZoneInfo(timezone_name)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)
