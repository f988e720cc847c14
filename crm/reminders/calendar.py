"""Working days: Monday to Friday, minus public holidays, plus make-up working days (调休).

Holidays and make-up days are data an administrator keeps (`work_calendar_day`); without
entries every weekday counts as a working day.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.reminders.models import WorkCalendarDay

MAX_WALK_DAYS = 3660


@dataclass
class WorkCalendar:
    """Exceptions to the Monday-to-Friday week, by date (True: working, False: day off)."""

    exceptions: dict[date, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._sorted = sorted(self.exceptions)

    def is_working(self, day: date) -> bool:
        return self.exceptions.get(day, day.weekday() < 5)

    def working_days_after(self, start: date, end: date) -> int:
        """How many working days d with start < d <= end (0 when end <= start)."""
        if end <= start:
            return 0
        count = _weekdays_through(end) - _weekdays_through(start)
        lo = bisect.bisect_right(self._sorted, start)
        hi = bisect.bisect_right(self._sorted, end)
        for day in self._sorted[lo:hi]:
            usual = day.weekday() < 5
            if self.exceptions[day] != usual:
                count += 1 if self.exceptions[day] else -1
        return count

    def latest_start(self, as_of: date, working_days: int) -> date:
        """The latest start date for which `working_days` working days have passed by
        `as_of` (start itself not counted)."""
        counted = 0
        day = as_of
        for _ in range(MAX_WALK_DAYS):
            if self.is_working(day):
                counted += 1
                if counted >= working_days:
                    return day - timedelta(days=1)
            day -= timedelta(days=1)
        return day


def _weekdays_through(day: date) -> int:
    """Monday-to-Friday days from an epoch Monday up to and including `day`."""
    ordinal = day.toordinal()  # ordinal 1 (0001-01-01) is a Monday
    weeks, rest = divmod(ordinal - 1, 7)
    return weeks * 5 + min(rest + 1, 5)


def load_calendar(session: Session) -> WorkCalendar:
    rows = session.execute(select(WorkCalendarDay.on, WorkCalendarDay.working)).all()
    return WorkCalendar({on: working for on, working in rows})
