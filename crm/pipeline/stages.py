"""Stage transitions: the rules every way of moving a project goes through.

The web form, the kanban board, the API, event signing and ledger import all call
`transition`, so a rule is written once.

Rules (issue 3):
- A transition has a date: today or earlier, never before the date of the stage the project
  last reached.
- Moving forward several main stages at once needs a date for every skipped stage; the
  dates must not decrease along the pipeline (a project can be signed and started the same day).
- Moving backwards, or reopening a dropped project, needs a reason.
- On hold (暂缓) and dropped (终止) are side states entered from any open stage; dropping needs
  a reason code from the list (free text optional). Leaving on hold for the stage it was
  held in needs no reason.
- Each stage entered is one StageChange row (kept forever) and one audit entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.enums import MAIN_STAGES, Stage
from crm.pipeline.changes import record_project_change
from crm.pipeline.models import Project, StageChange
from crm.reference.models import DropReason

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class TransitionError(ValueError):
    """A refused transition; `field` names the input at fault (date, dates.<stage>, reason...)."""

    def __init__(self, message: object, field: str = "to") -> None:
        super().__init__(str(message))
        self.field = field


@dataclass(frozen=True)
class TransitionPlan:
    """What a requested transition needs before it can be made (for forms)."""

    current: Stage
    to: Stage
    skipped: tuple[Stage, ...]
    needs_reason: bool
    needs_drop_reason: bool


def local_today() -> date:
    return datetime.now(UTC).astimezone(LOCAL_TZ).date()


def _base_stage(project: Project) -> Stage:
    """The main stage a project is at, or was at before a side state."""
    if project.stage in MAIN_STAGES:
        return project.stage
    return project.resume_stage or Stage.LEAD


def _last_reached_date(project: Project) -> date | None:
    """The latest date among the stages the project has reached (incl. side states)."""
    dates = [
        project.stage_date(s) for s in MAIN_STAGES[: MAIN_STAGES.index(_base_stage(project)) + 1]
    ]
    if project.stage == Stage.ON_HOLD:
        dates.append(project.on_hold_on)
    if project.stage == Stage.DROPPED:
        dates.append(project.dropped_on)
    known = [d for d in dates if d is not None]
    return max(known) if known else None


def plan(project: Project, to: Stage) -> TransitionPlan:
    """Describe what moving `project` to `to` requires; raises TransitionError if impossible."""
    current = project.stage
    if to == current:
        raise TransitionError(_l("The project is already at this stage."))
    base = _base_stage(project)
    skipped: tuple[Stage, ...] = ()
    needs_reason = False
    if to in MAIN_STAGES:
        start, end = MAIN_STAGES.index(base), MAIN_STAGES.index(to)
        if end > start:
            skipped = MAIN_STAGES[start + 1 : end]
        elif end < start:
            needs_reason = True
        if current == Stage.DROPPED:
            needs_reason = True  # reopening
    elif to == Stage.ON_HOLD and current == Stage.DROPPED:
        raise TransitionError(_l("Reopen a dropped project to a pipeline stage first."))
    return TransitionPlan(
        current=current,
        to=to,
        skipped=skipped,
        needs_reason=needs_reason,
        needs_drop_reason=to == Stage.DROPPED,
    )


def transition(
    session: Session,
    project: Project,
    *,
    to: Stage,
    on: date,
    user_id: int | None,
    note: str | None = None,
    reason: str | None = None,
    skipped_dates: Mapping[Stage, date] | None = None,
    drop_reason_code: str | None = None,
    today: date | None = None,
) -> list[StageChange]:
    """Move `project` to `to` on `on`, recording history; returns the StageChange rows added.

    Raises TransitionError (nothing changed) when a rule is broken. Flushes; the caller commits.
    """
    today = today or local_today()
    steps = plan(project, to)
    note = (note or "").strip() or None
    reason = (reason or "").strip() or None
    skipped_dates = dict(skipped_dates or {})

    if on > today:
        raise TransitionError(_l("The date cannot be in the future."), "date")
    if steps.needs_reason and not reason:
        raise TransitionError(
            _l("Moving backwards or reopening a dropped project needs a reason."), "reason"
        )
    drop_reason = None
    if steps.needs_drop_reason:
        drop_reason = session.get(DropReason, drop_reason_code) if drop_reason_code else None
        if drop_reason is None:
            raise TransitionError(_l("Choose why the project is dropped."), "drop_reason")

    # The dates of the stages entered, in pipeline order, must not decrease.
    previous = _last_reached_date(project)
    entered: list[tuple[Stage, date]] = []
    for stage in steps.skipped:
        day = skipped_dates.get(stage)
        if day is None:
            raise TransitionError(
                _l("Give the date the project reached this stage."), f"dates.{stage.value}"
            )
        entered.append((stage, day))
    entered.append((to, on))
    base = _base_stage(project)
    backwards = to in MAIN_STAGES and MAIN_STAGES.index(to) < MAIN_STAGES.index(base)
    forward = to in MAIN_STAGES and MAIN_STAGES.index(to) > MAIN_STAGES.index(base)
    for stage, day in entered:
        if day > today:
            raise TransitionError(_l("The date cannot be in the future."), _field(stage, to))
        if previous is not None and day < previous:
            raise TransitionError(
                _l(
                    "The date cannot be before %(day)s, the date of the previous stage.",
                    day=previous.isoformat(),
                ),
                _field(stage, to),
            )
        previous = day

    changes: dict[str, list[str | None]] = {"stage": [project.stage.value, to.value]}

    def set_date(attr: str, value: date | None) -> None:
        old = getattr(project, attr)
        if old != value:
            changes[attr] = [old.isoformat() if old else None, value.isoformat() if value else None]
            setattr(project, attr, value)

    rows: list[StageChange] = []
    from_stage = project.stage
    if to in MAIN_STAGES:
        if backwards:
            # Stages after the target are no longer reached; history keeps them.
            for stage in MAIN_STAGES[MAIN_STAGES.index(to) + 1 :]:
                set_date(f"{stage.value}_on", None)
            if project.stage_date(to) is None:
                set_date(f"{to.value}_on", on)
        elif forward:
            for stage, day in entered:
                set_date(f"{stage.value}_on", day)
        set_date("on_hold_on", None)
        set_date("dropped_on", None)
        if project.resume_stage is not None:
            changes["resume_stage"] = [project.resume_stage.value, None]
            project.resume_stage = None
        if from_stage == Stage.DROPPED:
            project.drop_reason_code = None
            project.drop_reason_text = None
    else:
        if project.stage in MAIN_STAGES:
            project.resume_stage = project.stage
        set_date(f"{to.value}_on", on)
        if to == Stage.DROPPED:
            project.drop_reason_code = drop_reason.code if drop_reason else None
            project.drop_reason_text = reason
            changes["drop_reason"] = [None, project.drop_reason_code]

    for stage, day in entered if to in MAIN_STAGES and not backwards else [(to, on)]:
        row = StageChange(
            project_id=project.id,
            from_stage=from_stage,
            to_stage=stage,
            on=day,
            user_id=user_id,
            note=note if stage == to else None,
            reason=reason if stage == to else None,
        )
        session.add(row)
        rows.append(row)
        from_stage = stage
    project.stage = to
    project.last_activity_at = datetime.now(UTC)
    record_project_change(
        session,
        project,
        user_id=user_id,
        action="stage_change",
        changes={
            **changes,
            **({"note": [None, note]} if note else {}),
            **({"reason": [None, reason]} if reason else {}),
        },
    )
    return rows


def _field(stage: Stage, to: Stage) -> str:
    return "date" if stage == to else f"dates.{stage.value}"


def history(session: Session, project_id: int) -> list[StageChange]:
    """Every stage change of a project, oldest first."""
    return list(
        session.scalars(
            select(StageChange)
            .where(StageChange.project_id == project_id)
            .order_by(StageChange.on, StageChange.id)
        )
    )
