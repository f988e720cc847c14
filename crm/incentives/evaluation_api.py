"""Saved incentive evaluations through the JSON API, as the project's incentives page keeps
them: a project's list (note, who, when, policy versions used), saving one, reading one.

Reading follows the project's scope (another team's project, and its evaluations, answer
404 like missing ones); saving needs the right to change the project (leaders: 403). The
web's services do the work, so a saved evaluation is the same whichever way it was saved.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import url_for
from pydantic import Field

from crm.api.framework import ApiError, Page, PageQuery, Schema, api_user, route
from crm.enums import Role
from crm.extensions import db
from crm.incentives import services
from crm.incentives.api import (
    IsoDate,
    ResultOut,
    TextPair,
    caller_reads_english,
    result_out,
)
from crm.incentives.facts import facts_to_json
from crm.pipeline.access import can_edit, get_visible_project

WRITERS = (Role.ADMIN, Role.LEAD, Role.OFFICER)


class SavedEvaluationSummary(Schema):
    id: int
    project_id: int
    zone: str
    zone_level: str
    zone_name: TextPair | None
    as_of: date
    note: str | None
    created_by_id: int | None
    created_by: str | None
    created_at: datetime
    policy_versions: dict[str, int] = Field(description="policy id -> version used")
    total_applies: str = Field(description="万元, a decimal string")
    total_by_assessment_cap: str = Field(description="万元, a decimal string")
    by_assessment_without_cap: int
    counts: dict[str, int]


class SavedEvaluationOut(SavedEvaluationSummary):
    facts: dict[str, Any] = Field(description="the facts evaluated, as saved")
    results: list[ResultOut] = Field(description="each measure's result, as it was shown")


class SaveEvaluationIn(Schema):
    zone: str | None = Field(None, description="zone code; default the landed, else target zone")
    as_of: IsoDate | None = Field(None, description="YYYY-MM-DD; default today (Asia/Shanghai)")
    note: str | None = Field(None, max_length=2000)
    facts: dict[str, Any] | None = Field(
        None,
        description="facts to evaluate (chain and planned_investment are the project's own); "
        "default: the facts stored on the project",
    )


def _summary_fields(row: services.SavedRow) -> dict[str, Any]:
    e = row.evaluation
    names = row.zone_name_zh, row.zone_name_en
    return {
        "id": e.id,
        "project_id": e.project_id,
        "zone": e.zone_code,
        "zone_level": e.zone_level,
        "zone_name": TextPair(zh=names[0], en=names[1]) if all(names) else None,
        "as_of": e.as_of,
        "note": e.note,
        "created_by_id": e.created_by_id,
        "created_by": row.user_name,
        "created_at": e.created_at,
        "policy_versions": dict(e.policy_versions or {}),
        "total_applies": format(e.total_applies, "f"),
        "total_by_assessment_cap": format(e.total_by_assessment_cap, "f"),
        "by_assessment_without_cap": e.by_assessment_without_cap,
        "counts": dict(e.counts or {}),
    }


def saved_out(row: services.SavedRow) -> SavedEvaluationOut:
    english = caller_reads_english()
    return SavedEvaluationOut(
        **_summary_fields(row),
        facts=dict(row.evaluation.facts or {}),
        results=[result_out(result, english) for result in row.evaluation.results or []],
    )


@route(
    "/projects/<int:project_id>/evaluations",
    summary="A project's saved incentive evaluations, newest first",
    query=PageQuery,
    response=Page[SavedEvaluationSummary],
    tags=["incentives", "projects"],
)
def list_saved_evaluations(project_id: int, query: PageQuery) -> Page[SavedEvaluationSummary]:
    project = get_visible_project(db.session, api_user(), project_id)  # 404 when hidden
    rows, total = services.saved_evaluations(
        db.session, project.id, limit=query.per_page, offset=(query.page - 1) * query.per_page
    )
    return Page[SavedEvaluationSummary](
        items=[SavedEvaluationSummary(**_summary_fields(row)) for row in rows],
        total=total,
        page=query.page,
        per_page=query.per_page,
    )


@route(
    "/projects/<int:project_id>/evaluations",
    "POST",
    summary="Evaluate the project in a zone on a date and keep the result with a note",
    body=SaveEvaluationIn,
    response=SavedEvaluationOut,
    status=201,
    roles=WRITERS,
    tags=["incentives", "projects"],
)
def save_evaluation(project_id: int, body: SaveEvaluationIn) -> Any:
    user = api_user()
    project = get_visible_project(db.session, user, project_id)  # 404 when hidden
    if not can_edit(db.session, user, project):
        raise ApiError(403, "You may read this project but not change it.")
    context = services.project_context(db.session, project)
    problems: list[tuple[str, str]] = []
    zone = services.zone_by_code(db.session, body.zone) if body.zone else context.default_zone
    if zone is None:
        problems.append(("zone", f"unknown zone code {body.zone!r}" if body.zone else "no zone"))
    facts = context.facts
    if body.facts is not None:
        facts, errors = services.facts_with_project(context, body.facts)
        problems += [(f"facts.{key}", message) for key, message in errors.items()]
    if problems:
        raise ApiError(
            422, "Give a zone the project can be evaluated in, and valid facts.", problems
        )
    assert zone is not None
    result = services.evaluate_in_zone(db.session, zone, facts, body.as_of)
    saved = services.save_evaluation(
        db.session, project, result, facts, note=body.note, user_id=user.id
    )
    db.session.commit()
    row = services.saved_evaluation_by_id(db.session, saved.id)
    assert row is not None
    location = url_for("api.get_saved_evaluation", evaluation_id=saved.id)
    return saved_out(row), {"Location": location}


@route(
    "/evaluations/<int:evaluation_id>",
    summary="One saved evaluation exactly as it was saved, with the policy versions it used",
    response=SavedEvaluationOut,
    tags=["incentives"],
)
def get_saved_evaluation(evaluation_id: int) -> SavedEvaluationOut:
    row = services.saved_evaluation_by_id(db.session, evaluation_id)
    if row is None:
        raise ApiError(404, "No such evaluation.")
    get_visible_project(db.session, api_user(), row.evaluation.project_id)  # 404 when hidden
    return saved_out(row)


# --- the project's stored facts ------------------------------------------------------------


class ProjectFactsOut(Schema):
    facts: dict[str, Any] = Field(description="facts stored on the project, as JSON values")
    derived: dict[str, Any] = Field(
        description="facts the project's own fields give (chain, planned_investment)"
    )
    ignored: dict[str, str] = Field(description="stored facts that no longer validate: why")


class ProjectFactsIn(Schema):
    facts: dict[str, Any] = Field(
        description="the facts to keep (replacing the stored ones); chain and "
        "planned_investment are the project's own fields and are ignored here"
    )


def _facts_out(context: services.ProjectContext) -> ProjectFactsOut:
    stored = {k: v for k, v in context.facts.items() if k not in context.derived}
    return ProjectFactsOut(
        facts=facts_to_json(stored),
        derived=facts_to_json(context.derived),
        ignored=dict(context.ignored),
    )


@route(
    "/projects/<int:project_id>/incentive-facts",
    summary="The facts stored on a project for evaluating its incentives",
    response=ProjectFactsOut,
    tags=["incentives", "projects"],
)
def get_project_facts(project_id: int) -> ProjectFactsOut:
    project = get_visible_project(db.session, api_user(), project_id)  # 404 when hidden
    return _facts_out(services.project_context(db.session, project))


@route(
    "/projects/<int:project_id>/incentive-facts",
    "PUT",
    summary="Replace the facts stored on a project (all valid, or nothing kept); recorded",
    body=ProjectFactsIn,
    response=ProjectFactsOut,
    roles=WRITERS,
    tags=["incentives", "projects"],
)
def put_project_facts(project_id: int, body: ProjectFactsIn) -> ProjectFactsOut:
    user = api_user()
    project = get_visible_project(db.session, user, project_id)  # 404 when hidden
    if not can_edit(db.session, user, project):
        raise ApiError(403, "You may read this project but not change it.")
    context = services.project_context(db.session, project)
    errors = services.save_project_facts(db.session, context, body.facts, user.id)
    if errors:
        problems = [(f"facts.{key}", message) for key, message in errors.items()]
        raise ApiError(422, "Invalid facts.", problems)
    db.session.commit()
    return _facts_out(services.project_context(db.session, project))
