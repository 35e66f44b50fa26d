"""The time window an `events` or `eventCount` argument set selects."""

from __future__ import annotations

import datetime as dt

from calendarapp.models import User
from calendarapp.timezones import day_bounds

from .errors import BadUserInput


def event_window(
    viewer: User, date: dt.date | None, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start, end) in UTC: the day `date` in the viewer's time zone, or the given bounds (None is open)."""
    if date is not None:
        if start is not None or end is not None:
            raise BadUserInput("Pass either date or from/to, not both.", field="date")
        try:
            return day_bounds(date, viewer.timezone)
        except (OverflowError, ValueError):  # the first or last day of the calendar
            raise BadUserInput(f"{date} is out of the supported range of days.", field="date") from None
    if start is not None and end is not None and end <= start:
        raise BadUserInput("to must be later than from.", field="to")
    return start, end
