"""The dashboard, the weekly report download and the archive of reports."""

from __future__ import annotations

import os
from datetime import date
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from crm import nav
from crm.accounts.models import Team
from crm.enums import MAIN_STAGES, Role
from crm.extensions import db
from crm.i18n import is_english, stage_label
from crm.reports import cache, charts, dashboard
from crm.reports.scope import REPORT_ROLES, ReportScope, ScopeError, scope_for
from crm.reports.weeks import Week, WeekError, local_today
from crm.security import roles_required

bp = Blueprint("reports", __name__)

nav.NAV.append(("reports.dashboard_page", _l("Dashboard"), tuple(r.value for r in REPORT_ROLES)))


DEFAULT_CACHE_SECONDS = int(os.environ.get("CRM_REPORT_CACHE_SECONDS", "120"))


def today() -> date:
    return local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def requested_week(default: Week) -> Week:
    """The `week` query argument (2026-W47), or `default`; 404 for a week not yet begun."""
    raw = (request.args.get("week") or "").strip()
    if not raw:
        return default
    try:
        week = Week.parse(raw)
    except WeekError as exc:
        abort(400, description=str(exc))
    if week.start > today():
        abort(400, description=_("That week has not begun yet."))
    return week


def requested_scope() -> ReportScope:
    try:
        return scope_for(db.session, current_user, request.args.get("team") or None)
    except ScopeError:
        abort(403)


def team_choices() -> list[tuple[str, str]]:
    if current_user.role == Role.LEAD:
        return []
    teams = db.session.execute(
        select(Team.code, Team.name_zh, Team.name_en)
        .where(Team.active.is_(True))
        .order_by(Team.code)
    ).all()
    return [(code, (en or zh) if is_english() else zh) for code, zh, en in teams]


def bilingual(zh: str, en: str) -> str:
    return (en or zh) if is_english() else zh


def yi_unit() -> str:
    """The unit the charts draw amounts in: 亿元 (100 million yuan)."""
    return "100M CNY" if is_english() else "亿元"


def build_charts(board: dashboard.Dashboard) -> dict[str, Any]:
    m = board.metrics
    funnel = [
        charts.Bar(
            stage_label(s),
            m.by_stage[s.value].count,
            f"{m.by_stage[s.value].count} · {charts.yi(m.by_stage[s.value].amount):,.1f}",
        )
        for s in MAIN_STAGES
    ]
    by_chain = [
        charts.Bar(
            bilingual(g.name_zh, g.name_en),
            charts.yi(g.active.amount),
            f"{charts.yi(g.active.amount):,.1f}",
        )
        for g in m.by_chain
    ]
    by_zone = [
        charts.Bar(
            bilingual(g.name_zh, g.name_en),
            charts.yi(g.active.amount),
            f"{charts.yi(g.active.amount):,.1f}",
        )
        for g in m.by_zone
    ]
    target = m.target_total
    months = [format_date(date(2000, i + 1, 1), "MMM") for i in range(12)]
    signings = charts.months_vs_target(
        _("Signings per month against the annual target"),
        [c.count for c in m.signings_by_month],
        target.signed_count if target else None,
        months,
        (_("Signed in the month"), _("Signed so far"), _("Target pace")),
    )
    spreads = [
        charts.Spread(
            bilingual(lt.name_zh, lt.name_en),
            lt.minimum,
            lt.p25,
            float(lt.median),
            lt.p75,
            lt.maximum,
        )
        for lt in m.lead_times
    ]
    stalled = [
        charts.Bar(bilingual(zh, en), c.count, str(c.count))
        for _code, zh, en, c in m.stalled_by_team
    ]
    visit_series = [
        (bilingual(*m.team_names.get(code, (code, code))), counts)
        for code, counts in m.visits_per_team_week.items()
    ]
    return {
        "funnel": charts.funnel(_("Pipeline by stage"), funnel),
        "by_chain": charts.hbars(
            _("Active pipeline by chain (%(unit)s)", unit=yi_unit()), by_chain
        ),
        "by_zone": charts.hbars(_("Active pipeline by zone (%(unit)s)", unit=yi_unit()), by_zone),
        "signings": signings,
        "lead_times": charts.spreads(_("Days from signing to start by zone"), spreads),
        "stalled": charts.hbars(_("Stalled projects by team"), stalled),
        "visits": charts.lines(
            _("Visits per team per week"), visit_series, [f"W{w.number:02d}" for w in m.visit_weeks]
        ),
    }


def cache_seconds() -> float:
    return float(current_app.config.get("CRM_REPORT_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


def dashboard_for(scope: ReportScope, week: Week) -> dashboard.Dashboard:
    """The dashboard of `scope` and `week`, from the short-lived cache when still current."""
    as_of = min(today(), week.end)
    return cache.cached(
        db.session,
        ("dashboard", scope.key, week.label, as_of.isoformat()),
        cache_seconds(),
        lambda: dashboard.build(db.session, scope, week, as_of=as_of),
    )


@bp.get("/dashboard")
@roles_required(*REPORT_ROLES)
def dashboard_page() -> Any:
    scope = requested_scope()
    week = requested_week(Week.of(today()))
    board = dashboard_for(scope, week)
    return render_template(
        "reports/dashboard.html",
        board=board,
        m=board.metrics,
        charts=build_charts(board),
        week=week,
        scope=scope,
        teams=team_choices(),
        yi_unit=yi_unit(),
        main_stages=MAIN_STAGES,
        name=bilingual,
    )
