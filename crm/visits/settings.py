"""Admin settings of this feature, kept in the shared `setting` table as text.

- `inquiry_answer_working_days`: how many working days an inbound inquiry may wait for an
  answer (default 2).
- `inquiry_holidays`: public holidays (ISO dates, comma or newline separated) that are not
  working days although they fall on a weekday.
- `inquiry_makeup_workdays`: weekend days that are working days (调休 make-up days).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.reference.models import Setting

WORKING_DAYS_KEY = "inquiry_answer_working_days"
HOLIDAYS_KEY = "inquiry_holidays"
MAKEUP_KEY = "inquiry_makeup_workdays"
DEFAULT_WORKING_DAYS = 2


@dataclass(frozen=True)
class InquirySettings:
    working_days: int = DEFAULT_WORKING_DAYS
    holidays: frozenset[date] = frozenset()
    makeup_workdays: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


def parse_dates(text: str | None) -> list[date]:
    """ISO dates separated by commas, spaces or new lines; raises ValueError naming a bad one."""
    days = []
    for token in re.split(r"[\s,;，、]+", text or ""):
        if not token:
            continue
        try:
            days.append(date.fromisoformat(token))
        except ValueError as exc:
            raise ValueError(token) from exc
    return sorted(set(days))


def format_dates(days: list[date] | frozenset[date]) -> str:
    return "\n".join(d.isoformat() for d in sorted(days))


def load_inquiry_settings(session: Session) -> InquirySettings:
    values = dict(
        session.execute(
            select(Setting.key, Setting.value).where(
                Setting.key.in_((WORKING_DAYS_KEY, HOLIDAYS_KEY, MAKEUP_KEY))
            )
        ).all()
    )
    try:
        working_days = int(values.get(WORKING_DAYS_KEY) or DEFAULT_WORKING_DAYS)
    except ValueError:
        working_days = DEFAULT_WORKING_DAYS
    try:
        holidays = frozenset(parse_dates(values.get(HOLIDAYS_KEY)))
        makeup = frozenset(parse_dates(values.get(MAKEUP_KEY)))
    except ValueError:
        holidays, makeup = frozenset(), frozenset()
    return InquirySettings(working_days=working_days, holidays=holidays, makeup_workdays=makeup)


def save_inquiry_settings(session: Session, settings: InquirySettings) -> None:
    """Store the settings (the caller commits)."""
    for key, value in (
        (WORKING_DAYS_KEY, str(settings.working_days)),
        (HOLIDAYS_KEY, format_dates(settings.holidays)),
        (MAKEUP_KEY, format_dates(settings.makeup_workdays)),
    ):
        row = session.get(Setting, key)
        if row is None:
            session.add(Setting(key=key, value=value))
        else:
            row.value = value
    session.flush()
