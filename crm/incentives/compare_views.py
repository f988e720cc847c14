"""Zone comparison: the same facts in any set of zones, side by side; export to xlsx."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from crm.extensions import db
from crm.i18n import is_english
from crm.incentives import services
from crm.incentives.blueprint import bp, parse_day, status_labels
from crm.incentives.facts import validate_facts
from crm.incentives.forms import fact_fields, read_facts
from crm.incentives.xlsx import comparison_workbook
from crm.pipeline.access import get_visible_project
from crm.reference.models import IndustrialChain

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class CompareState:
    """What the comparison form asked for, read from the query string."""

    all_zones: list[services.ZoneRef]
    selected: list[services.ZoneRef]
    as_of: date
    facts: dict[str, object]
    raw: dict[str, object] | None
    context: services.ProjectContext | None
    errors: dict[str, str] = field(default_factory=dict)  # by fact key
    problems: dict[str, str] = field(default_factory=dict)  # zones, as_of, project

    @property
    def query(self) -> str:
        return request.query_string.decode("ascii", "replace")


def _chain_choices() -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(IndustrialChain.code, IndustrialChain.name_zh, IndustrialChain.name_en)
        .where(IndustrialChain.retired.is_(False))
        .order_by(IndustrialChain.sort, IndustrialChain.code)
    ).all()
    english = is_english()
    seen: dict[str, str] = {}
    for code, name_zh, name_en in rows:
        seen.setdefault(code, name_en if english else name_zh)
    return list(seen.items())


def _state() -> CompareState:
    args = request.args
    all_zones = services.zones(db.session)
    by_code = {zone.code: zone for zone in all_zones}
    problems: dict[str, str] = {}
    submitted = args.get("go") == "1"
    codes = [code for code in args.getlist("zones") if code]
    unknown = [code for code in codes if code not in by_code]
    if unknown:
        problems["zones"] = _("Unknown zone %(code)s.", code=", ".join(unknown))
    selected = [by_code[code] for code in dict.fromkeys(codes) if code in by_code]
    if not codes and not submitted:
        selected = list(all_zones)
    elif not selected and not unknown:
        problems["zones"] = _("Choose at least one zone.")
    as_of, problem = parse_day(args.get("as_of"))
    if problem:
        problems["as_of"] = problem
    context = None
    project_id = args.get("project", type=int)
    if project_id is not None and not 0 < project_id < 2**31:
        abort(404)
    if project_id:
        project = get_visible_project(db.session, current_user, project_id)  # 404 if hidden
        context = services.project_context(db.session, project)
    raw = read_facts(args) if submitted else None
    if raw is None:
        facts, errors = (dict(context.facts) if context else {}), {}
    elif context is not None:
        facts, errors = services.facts_with_project(context, raw)
    else:
        facts, errors = validate_facts(raw, chain_codes=services.chain_codes(db.session))
    return CompareState(all_zones, selected, as_of, facts, raw, context, errors, problems)


def _results(state: CompareState) -> list[services.ZoneEvaluation]:
    if not state.selected or state.errors or state.problems:
        return []
    evaluations, _policies = services.compare_zones(
        db.session, state.selected, state.facts, state.as_of
    )
    return evaluations


def _page(state: CompareState, results: list[services.ZoneEvaluation]) -> Any:
    policies = services.current_policies(db.session)
    derived = services.PROJECT_OWNED_FACTS if state.context else ()
    needed: set[str] = set()
    for zone in state.selected:
        needed |= services.facts_used_by(policies, zone)
    fields = fact_fields(
        state.facts,
        english=is_english(),
        raw=state.raw,
        errors=state.errors,
        needed=needed,
        missing={key for item in results for key in item.evaluation.missing_facts},
        derived=derived,
        chain_choices=_chain_choices(),
    )
    status = 422 if state.errors or state.problems else 200
    return render_template(
        "incentives/compare.html",
        state=state,
        results=results,
        data=[item.to_dict() for item in results],
        fields=fields,
        selected_codes={zone.code for zone in state.selected},
        policy_titles={p.id: (p.title_zh, p.title_en) for p in policies.policies},
    ), status


@bp.get("/incentives/compare")
@login_required
def compare() -> Any:
    """Pick zones, a date and facts (or a project's): zones ranked by estimated total."""
    state = _state()
    return _page(state, _results(state))


@bp.get("/incentives/compare.xlsx")
@login_required
def compare_export() -> Any:
    """The same comparison as an Excel workbook (the form's query string)."""
    state = _state()
    if state.errors or state.problems or not state.selected:
        return _page(state, [])
    results = _results(state)
    content = comparison_workbook(
        results,
        state.facts,
        as_of=state.as_of,
        project_name=state.context.project.name if state.context else None,
        english=is_english(),
        status_labels=status_labels(),
    )
    filename = f"incentives-compare-{state.as_of.isoformat()}.xlsx"
    return Response(
        content,
        mimetype=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
