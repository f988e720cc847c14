"""Report periods: ISO weeks (Monday to Sunday) and year-to-date windows, in Asia/Shanghai.

Stage dates are calendar dates in the city's time zone, so every period is a closed range
of dates `[start, end]`; "today" is taken in the configured time zone, never in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

WEEK_RE = re.compile(r"^(\d{4})-?W(\d{1,2})$")
DEFAULT_TZ = "Asia/Shanghai"


class WeekError(ValueError):
    """A week label that is not `YYYY-Www` or names a week that does not exist."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True)
class Week(Period):
    year: int  # the ISO year (may differ from the calendar year around New Year)
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @classmethod
    def of(cls, day: date) -> Week:
        """The ISO week holding `day`."""
        iso = day.isocalendar()
        start = day - timedelta(days=iso.weekday - 1)
        return cls(start=start, end=start + timedelta(days=6), year=iso.year, number=iso.week)

    @classmethod
    def parse(cls, text: str) -> Week:
        """Parse `2026-W47` (or `2026W47`); refuse week 53 in a year that has none."""
        match = WEEK_RE.match(text.strip().upper())
        if not match:
            raise WeekError(f"'{text}' is not an ISO week such as 2026-W47.")
        year, number = int(match.group(1)), int(match.group(2))
        try:
            start = date.fromisocalendar(year, number, 1)
        except ValueError as exc:
            raise WeekError(f"{year} has no week {number}.") from exc
        return cls(start=start, end=start + timedelta(days=6), year=year, number=number)

    def previous(self) -> Week:
        return Week.of(self.start - timedelta(days=7))

    def next(self) -> Week:
        return Week.of(self.start + timedelta(days=7))

    @property
    def year_to_date(self) -> Period:
        """From 1 January of the calendar year of the week's Sunday up to that Sunday."""
        return Period(date(self.end.year, 1, 1), self.end)

    @property
    def last_year_to_date(self) -> Period:
        """The same window one year earlier (29 February maps to 28 February)."""
        return Period(date(self.end.year - 1, 1, 1), same_day_last_year(self.end))


def same_day_last_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def local_today(tz_name: str = DEFAULT_TZ, now: datetime | None = None) -> date:
    """Today's date in the city's time zone."""
    now = now or datetime.now(UTC)
    return now.astimezone(ZoneInfo(tz_name)).date()


def last_complete_week(today: date) -> Week:
    """The week before the one holding `today` (what the Monday job reports on)."""
    return Week.of(today).previous()
