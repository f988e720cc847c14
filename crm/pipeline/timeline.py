"""A project's stage timeline: the stages reached, the days in each, signing to start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from crm.enums import MAIN_STAGES, Stage
from crm.pipeline.models import Project
from crm.pipeline.stages import local_today


@dataclass(frozen=True)
class TimelineStep:
    stage: Stage
    entered_on: date
    days: int
    current: bool


def stage_timeline(project: Project, today: date | None = None) -> list[TimelineStep]:
    """The stages the project reached, in pipeline order, with the days spent in each.

    A stage lasts until the next one is reached; the current one until today. A side state
    (on hold, dropped) comes after the main stage it was entered from. Stages without a
    recorded date are left out.
    """
    today = today or local_today()
    base = project.stage if project.stage in MAIN_STAGES else project.resume_stage or Stage.LEAD
    reached: list[tuple[Stage, date]] = [
        (s, d)
        for s in MAIN_STAGES[: MAIN_STAGES.index(base) + 1]
        if (d := project.stage_date(s)) is not None
    ]
    if project.stage not in MAIN_STAGES and (side := project.stage_date(project.stage)):
        reached.append((project.stage, side))
    steps = []
    for i, (stage, entered) in enumerate(reached):
        last = i == len(reached) - 1
        until = today if last else reached[i + 1][1]
        steps.append(TimelineStep(stage, entered, max(0, (until - entered).days), current=last))
    return steps


def days_signing_to_start(project: Project) -> int | None:
    """Days from signing to construction start ("Changsha speed"), when both are known."""
    if project.signed_on is None or project.started_on is None:
        return None
    return (project.started_on - project.signed_on).days


def days_in_stage(project: Project, today: date | None = None) -> int | None:
    """Days since the project entered its current stage, if that date is known."""
    entered = project.stage_date(project.stage)
    return None if entered is None else ((today or local_today()) - entered).days
