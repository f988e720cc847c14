"""Administration of annual targets (per zone or team)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from crm import nav
from crm.accounts.forms import ConfirmForm
from crm.accounts.models import Team
from crm.enums import Role
from crm.extensions import db
from crm.reference.models import Zone
from crm.reports import targets
from crm.reports.views import bilingual, bp, today
from crm.security import roles_required

nav.ADMIN_NAV.append(("reports.targets_page", _l("Annual targets")))


def _units() -> list[tuple[str, str, str, str]]:
    """(kind, code, name_zh, name_en) of every active zone and team, zones first."""
    zones = db.session.execute(
        select(Zone.code, Zone.name_zh, Zone.name_en).where(Zone.active.is_(True)).order_by(Zone.id)
    ).all()
    teams = db.session.execute(
        select(Team.code, Team.name_zh, Team.name_en)
        .where(Team.active.is_(True))
        .order_by(Team.code)
    ).all()
    return [("zone", *z) for z in zones] + [("team", *t) for t in teams]


def _parse(raw: str, kind: type) -> Any:
    raw = raw.strip().replace(",", "")
    if not raw:
        return None
    return kind(raw)


def _inputs(units: list[tuple[str, str, str, str]]) -> tuple[list[targets.TargetInput], dict]:
    items, errors = [], {}
    for kind, code, _zh, _en in units:
        values: dict[str, Any] = {}
        for measure in targets.MEASURES:
            name = f"{kind}:{code}:{measure}"
            try:
                values[measure] = _parse(
                    request.form.get(name, ""), Decimal if measure == "signed_amount" else int
                )
            except (ValueError, InvalidOperation):
                errors[name] = _("Enter a number.")
        items.append(targets.TargetInput(kind, code, **values))
    return items, errors


@bp.route("/admin/targets", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def targets_page() -> Any:
    year = request.args.get("year", type=int) or today().year
    units = _units()
    errors: dict[str, str] = {}
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        items, errors = _inputs(units)
        if not errors:
            try:
                targets.save_targets(db.session, year, items, current_user.id)
            except targets.TargetError as exc:
                errors["form"] = str(exc)
            else:
                db.session.commit()
                flash(_("Targets for %(year)d saved.", year=year), "success")
                return redirect(url_for("reports.targets_page", year=year))
    current = {(t.kind, t.code): t for t in targets.list_targets(db.session, year)}
    status = 422 if errors else 200
    return render_template(
        "reports/targets.html",
        year=year,
        units=units,
        current=current,
        errors=errors,
        form=form,
        submitted=request.form if errors else None,
        measures=targets.MEASURES,
        name=bilingual,
    ), status
