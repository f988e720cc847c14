"""Incentives of one project: the project-page panel, the evaluation page, saved evaluations."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from crm import nav
from crm.extensions import db
from crm.i18n import is_english
from crm.incentives import services
from crm.incentives.blueprint import bp, parse_day
from crm.incentives.forms import fact_fields, read_facts
from crm.pipeline import queries
from crm.pipeline.access import can_edit
from crm.pipeline.panels import Panel, register

nav.NAV.append(("incentives.compare", _l("Compare incentives"), None))
nav.NAV.append(("incentives.policy_list", _l("Incentive policies"), None))
nav.ADMIN_NAV.append(("incentives.policy_upload", _l("Upload an incentive policy")))

SAVED_ON_PAGE = 20
SAVED_IN_PANEL = 5


def _panel(session: Any, user: Any, project: Any) -> dict[str, Any]:
    """The evaluation for the landed (or target) zone as of today, and recent saves."""
    context = services.project_context(session, project)
    zone = context.default_zone
    saved, saved_total = services.saved_evaluations(session, project.id, limit=SAVED_IN_PANEL)
    result = services.evaluate_in_zone(session, zone, context.facts) if zone else None
    return {
        "project": project,
        "zone": zone,
        "landed": context.landed_zone is not None,
        "result": result,
        "data": result.to_dict() if result else None,
        "policy_titles": _titles(result.policies) if result else {},
        "saved": saved,
        "saved_total": saved_total,
        "ignored": context.ignored,
    }


def _titles(policies: services.PolicySet) -> dict[str, tuple[str, str]]:
    return {p.id: (p.title_zh, p.title_en) for p in policies.policies}


register(Panel("incentives", "incentives/_panel.html", _panel, order=50))


def _project_row(project_id: int) -> queries.ProjectRow:
    row = queries.project_row(db.session, current_user, project_id)
    if row is None:
        abort(404)
    return row


def _zone_and_day(
    values: Any, context: services.ProjectContext
) -> tuple[services.ZoneRef | None, date, dict[str, str]]:
    problems: dict[str, str] = {}
    code = (values.get("zone") or "").strip()
    zone = services.zone_by_code(db.session, code) if code else context.default_zone
    if code and zone is None:
        problems["zone"] = _("Unknown zone %(code)s.", code=code)
        zone = context.default_zone
    as_of, problem = parse_day(values.get("as_of"))
    if problem:
        problems["as_of"] = problem
    return zone, as_of, problems


def _render(
    row: queries.ProjectRow,
    context: services.ProjectContext,
    zone: services.ZoneRef | None,
    as_of: date,
    facts: dict[str, object],
    *,
    raw: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    note: str = "",
    status: int = 200,
) -> Any:
    result = services.evaluate_in_zone(db.session, zone, facts, as_of) if zone else None
    policies = result.policies if result else services.current_policies(db.session)
    missing = result.evaluation.missing_facts if result else ()
    fields = fact_fields(
        facts,
        english=is_english(),
        raw=raw,
        errors=errors,
        needed=services.facts_used_by(policies, zone),
        missing=missing,
        derived=services.PROJECT_OWNED_FACTS,
    )
    saved, saved_total = services.saved_evaluations(db.session, context.project.id, SAVED_ON_PAGE)
    body = render_template(
        "incentives/project.html",
        row=row,
        context=context,
        zone=zone,
        zones=services.zones(db.session),
        as_of=as_of,
        result=result,
        data=result.to_dict() if result else None,
        policy_titles=_titles(policies),
        fields=fields,
        errors=errors or {},
        problems=problems or {},
        note=note,
        saved=saved,
        saved_total=saved_total,
        editable=can_edit(db.session, current_user, context.project),
    )
    return body, status


@bp.get("/projects/<int:project_id>/incentives")
@login_required
def project_incentives(project_id: int) -> Any:
    """The evaluation page: ?zone=CODE&as_of=YYYY-MM-DD (default: landed or target zone,
    today), with the project's stored facts."""
    row = _project_row(project_id)
    context = services.project_context(db.session, row.project)
    zone, as_of, problems = _zone_and_day(request.args, context)
    status = 422 if problems else 200
    return _render(row, context, zone, as_of, context.facts, problems=problems, status=status)


def _submitted(project_id: int) -> tuple[Any, ...]:
    row = _project_row(project_id)
    context = services.project_context(db.session, row.project)
    zone, as_of, problems = _zone_and_day(request.form, context)
    raw = read_facts(request.form)
    facts, errors = services.facts_with_project(context, raw)
    return row, context, zone, as_of, problems, raw, facts, errors


@bp.post("/projects/<int:project_id>/incentives")
@login_required
def project_evaluate(project_id: int) -> Any:
    """Evaluate with the facts typed in the form, saving nothing (any reader may)."""
    row, context, zone, as_of, problems, raw, facts, errors = _submitted(project_id)
    status = 422 if errors or problems else 200
    return _render(
        row,
        context,
        zone,
        as_of,
        facts,
        raw=raw,
        errors=errors,
        problems=problems,
        note=request.form.get("note", ""),
        status=status,
    )


@bp.post("/projects/<int:project_id>/incentives/facts")
@login_required
def project_save_facts(project_id: int) -> Any:
    """Store the facts typed in the form on the project (validated; all or nothing)."""
    row, context, zone, as_of, _problems, raw, facts, errors = _submitted(project_id)
    if not can_edit(db.session, current_user, context.project):
        abort(403)
    if not errors:
        errors = services.save_project_facts(db.session, context, raw, current_user.id)
    if errors:
        return _render(row, context, zone, as_of, facts, raw=raw, errors=errors, status=422)
    db.session.commit()
    flash(_("The project's facts were saved."), "success")
    return redirect(
        url_for(
            "incentives.project_incentives",
            project_id=project_id,
            zone=zone.code if zone else None,
            as_of=as_of.isoformat(),
        )
    )


@bp.post("/projects/<int:project_id>/incentives/evaluations")
@login_required
def project_save_evaluation(project_id: int) -> Any:
    """Keep the evaluation of the typed facts, with a note and the policy versions used."""
    row, context, zone, as_of, problems, raw, facts, errors = _submitted(project_id)
    if not can_edit(db.session, current_user, context.project):
        abort(403)
    note = request.form.get("note", "")
    if zone is None:
        problems["zone"] = _("Choose a zone to evaluate.")
    if errors or problems:
        return _render(
            row,
            context,
            zone,
            as_of,
            facts,
            raw=raw,
            errors=errors,
            problems=problems,
            note=note,
            status=422,
        )
    assert zone is not None
    result = services.evaluate_in_zone(db.session, zone, facts, as_of)
    saved = services.save_evaluation(
        db.session, context.project, result, facts, note=note[:2000], user_id=current_user.id
    )
    db.session.commit()
    flash(_("The evaluation was saved."), "success")
    return redirect(
        url_for("incentives.saved_evaluation", project_id=project_id, evaluation_id=saved.id)
    )


@bp.get("/projects/<int:project_id>/incentives/evaluations/<int:evaluation_id>")
@login_required
def saved_evaluation(project_id: int, evaluation_id: int) -> Any:
    """A saved evaluation exactly as it was saved, with the policy versions it used."""
    row = _project_row(project_id)
    saved = services.saved_evaluation(db.session, project_id, evaluation_id)
    if saved is None:
        abort(404)
    return render_template("incentives/saved.html", row=row, saved=saved)
