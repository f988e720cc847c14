"""The built-in reminder rules and their admin-editable thresholds.

A rule measures the days since an anchor date (signing, last activity, due date, ...) for
the projects in the stages it applies to. It fires at its threshold (level 1), escalates at
twice the threshold (level 2: the team lead) and three times (level 3: leaders). Key
projects (重点项目) use the tighter `key_days`. Thresholds live in `reminder_rule` rows (one
per rule and stage), seeded from `seed/reminder_rules.yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.enums import Stage
from crm.reminders.models import ANY_STAGE, ReminderRule

SIGNED_NOT_LANDED = "signed_not_landed"
LANDED_NOT_STARTED = "landed_not_started"
STARTED_NOT_OPERATING = "started_not_operating"
NO_ACTIVITY = "no_activity"
TASK_OVERDUE = "task_overdue"
INQUIRY_UNANSWERED = "inquiry_unanswered"
NO_STAGE_CHANGE = "no_stage_change"

OPEN_STAGES: tuple[Stage, ...] = (
    Stage.LEAD,
    Stage.NEGOTIATING,
    Stage.SIGNED,
    Stage.LANDED,
    Stage.STARTED,
)
MAX_DAYS = 3650


@dataclass(frozen=True)
class RuleDefinition:
    code: str
    label: Any
    description: Any
    stages: tuple[str, ...]  # the stages a threshold is set for, or (ANY_STAGE,)
    working_days: bool = False


DEFINITIONS: tuple[RuleDefinition, ...] = (
    RuleDefinition(
        SIGNED_NOT_LANDED,
        _l("Signed, not landed"),
        _l("Days since signing while the project has not landed (registered in the zone)."),
        (Stage.SIGNED.value,),
    ),
    RuleDefinition(
        LANDED_NOT_STARTED,
        _l("Signed, construction not started"),
        _l("Days since signing while the project has landed but construction has not started."),
        (Stage.LANDED.value,),
    ),
    RuleDefinition(
        STARTED_NOT_OPERATING,
        _l("Started, not operating"),
        _l(
            "Past the planned operating date; without one, this many days after construction "
            "started."
        ),
        (Stage.STARTED.value,),
    ),
    RuleDefinition(
        NO_ACTIVITY,
        _l("No activity"),
        _l("Days without a visit, a stage change or a completed follow-up."),
        (Stage.LEAD.value, Stage.NEGOTIATING.value),
    ),
    RuleDefinition(
        TASK_OVERDUE,
        _l("Follow-up overdue"),
        _l("Days a follow-up is past its due date and still open."),
        (ANY_STAGE,),
    ),
    RuleDefinition(
        INQUIRY_UNANSWERED,
        _l("Inquiry unanswered"),
        _l("Working days since an inbound inquiry arrived without an answer."),
        (ANY_STAGE,),
        working_days=True,
    ),
    RuleDefinition(
        NO_STAGE_CHANGE,
        _l("No stage change"),
        _l("Days in the same open stage."),
        tuple(s.value for s in OPEN_STAGES),
    ),
)
BY_CODE = {d.code: d for d in DEFINITIONS}
RULE_CODES = tuple(d.code for d in DEFINITIONS)

LEVEL_LABELS = {
    1: _l("Threshold reached"),
    2: _l("Twice the threshold: team lead told"),
    3: _l("Three times the threshold: leaders told"),
}


def rule_label(code: str) -> str:
    definition = BY_CODE.get(code)
    return str(definition.label) if definition else code


def level_label(level: int) -> str:
    return str(LEVEL_LABELS.get(level, level))


@dataclass(frozen=True)
class Threshold:
    rule_id: int
    code: str
    stage: str
    enabled: bool
    days: int
    key_days: int | None

    def for_project(self, is_key: bool) -> int:
        return max(1, self.key_days if is_key and self.key_days else self.days)


def load_thresholds(session: Session) -> dict[tuple[str, str], Threshold]:
    """Every rule row by (code, stage); one query."""
    return {
        (r.code, r.stage): Threshold(r.id, r.code, r.stage, r.enabled, r.days, r.key_days)
        for r in session.scalars(select(ReminderRule))
    }


def enabled_for(thresholds: dict[tuple[str, str], Threshold], code: str) -> list[Threshold]:
    return [t for (c, _s), t in sorted(thresholds.items()) if c == code and t.enabled]


class RuleError(ValueError):
    def __init__(self, message: str, field: str = "rules") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RuleChange:
    code: str
    stage: str
    enabled: bool | None = None
    days: int | None = None
    key_days: int | None = None
    clear_key_days: bool = False


def update_rules(session: Session, changes: list[RuleChange], actor_id: int | None) -> int:
    """Apply threshold changes (validated: 1..3650 days, key threshold not looser than the
    normal one), auditing each changed row. Returns how many rows changed; flushes."""
    rows = {(r.code, r.stage): r for r in session.scalars(select(ReminderRule))}
    changed = 0
    for index, change in enumerate(changes):
        row = rows.get((change.code, change.stage))
        if row is None:
            raise RuleError(
                str(
                    _l(
                        "Unknown rule %(code)s for stage %(stage)s.",
                        code=change.code,
                        stage=change.stage,
                    )
                ),
                f"rules.{index}",
            )
        days = change.days if change.days is not None else row.days
        key_days = (
            None
            if change.clear_key_days
            else (change.key_days if change.key_days is not None else row.key_days)
        )
        enabled = change.enabled if change.enabled is not None else row.enabled
        for value in (days, key_days):
            if value is not None and not 1 <= value <= MAX_DAYS:
                raise RuleError(
                    str(_l("Thresholds are between 1 and %(max)d days.", max=MAX_DAYS)),
                    f"rules.{index}",
                )
        if key_days is not None and key_days > days:
            raise RuleError(
                str(_l("The key-project threshold must not be longer than the normal one.")),
                f"rules.{index}",
            )
        diff: dict[str, list[Any]] = {}
        for name, value in (("enabled", enabled), ("days", days), ("key_days", key_days)):
            if getattr(row, name) != value:
                diff[name] = [getattr(row, name), value]
                setattr(row, name, value)
        if diff:
            row.updated_by_id = actor_id
            audit.record(
                session,
                user_id=actor_id,
                entity_type="reminder_rule",
                entity_id=row.id,
                action="update",
                changes={"code": row.code, "stage": row.stage, **diff},
            )
            changed += 1
    session.flush()
    return changed


def load_default_rules(session: Session, path: Path) -> tuple[int, int]:
    """Create the rule rows of `path` that do not exist yet (admins' edits are kept).

    Returns (created, already there). Raises ValueError on an invalid file.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    existing = {(r.code, r.stage) for r in session.scalars(select(ReminderRule))}
    created = kept = 0
    for entry in data.get("rules") or []:
        code, stage = entry.get("code"), entry.get("stage", ANY_STAGE)
        definition = BY_CODE.get(code)
        if definition is None or stage not in definition.stages:
            raise ValueError(f"{path.name}: unknown rule or stage: {code} / {stage}")
        days, key_days = int(entry["days"]), entry.get("key_days")
        if not 1 <= days <= MAX_DAYS or (key_days is not None and not 1 <= key_days <= days):
            raise ValueError(f"{path.name}: invalid thresholds for {code} / {stage}")
        if (code, stage) in existing:
            kept += 1
            continue
        session.add(
            ReminderRule(
                code=code,
                stage=stage,
                enabled=bool(entry.get("enabled", True)),
                days=days,
                key_days=key_days,
            )
        )
        existing.add((code, stage))
        created += 1
    session.flush()
    return created, kept
