"""Key-project (重点项目) rules: why a project is key, recomputed whenever its inputs change."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import User
from crm.enums import TOP500_LISTS, InvestorTag
from crm.pipeline.access import can_lead
from crm.pipeline.changes import record_project_change
from crm.pipeline.errors import NotAllowed, ProjectError
from crm.pipeline.models import CompanyTop500, Project
from crm.pipeline.stages import local_today
from crm.reference.models import Setting

THRESHOLD_SETTING = "key_project_threshold_wan"
DEFAULT_THRESHOLD_WAN = Decimal("100000")  # 10亿元


TOP500_LABELS: dict[str, Any] = {
    InvestorTag.FORTUNE_GLOBAL_500.value: _l("Fortune Global 500"),
    InvestorTag.CHINA_TOP_500.value: _l("China Top 500 enterprises"),
    InvestorTag.CHINA_PRIVATE_TOP_500.value: _l("China private enterprises Top 500"),
}


def configured_default() -> Decimal:
    """The threshold used until an admin sets one (CRM_KEY_PROJECT_THRESHOLD_WAN)."""
    try:
        return Decimal(str(current_app.config["CRM_KEY_PROJECT_THRESHOLD_WAN"]))
    except (RuntimeError, KeyError, InvalidOperation):
        return DEFAULT_THRESHOLD_WAN


def key_threshold(session: Session, default: Decimal | None = None) -> Decimal:
    """The planned investment (万元) from which a project is key; an admin setting."""
    value = session.scalar(select(Setting.value).where(Setting.key == THRESHOLD_SETTING))
    return Decimal(value) if value else (default if default is not None else configured_default())


def describe_reason(reason: str, threshold_text: str, manual_reason: str | None) -> str:
    """A key-project reason in words, e.g. "The investor is on the 2026 Fortune Global 500".

    `threshold_text` is the threshold already formatted for the reader (10亿元).
    """
    if reason.startswith("top500:"):
        _, list_code, year = reason.split(":", 2)
        label = TOP500_LABELS.get(list_code, list_code)
        return str(_l("The investor is on the %(year)s %(list)s", year=year, list=label))
    if reason == "amount":
        return str(_l("Planned investment of at least %(amount)s", amount=threshold_text))
    if reason == "manual":
        return str(_l("Marked by a team lead: %(reason)s", reason=manual_reason or ""))
    return reason


def key_reasons(
    *,
    planned_investment: Decimal | None,
    threshold: Decimal,
    top500: Iterable[tuple[str, int]],
    current_year: int,
    manual: bool,
    manual_reason: str | None,
) -> list[str]:
    """Machine-readable reasons a project is key; empty when it is not.

    Reasons: `top500:<list>:<year>` when the investor is on a Top-500 list of this or the
    previous year, `amount` when the planned investment reaches the threshold, and
    `manual` when a lead marked it.
    """
    reasons = []
    lists = {code for code in TOP500_LISTS}
    for list_code, year in sorted(set(top500)):
        if list_code in lists and year in (current_year, current_year - 1):
            reasons.append(f"top500:{list_code}:{year}")
    if planned_investment is not None and planned_investment >= threshold:
        reasons.append("amount")
    if manual:
        reasons.append("manual")
    return reasons


def company_top500(session: Session, company_id: int) -> list[tuple[str, int]]:
    return [
        (code, year)
        for code, year in session.execute(
            select(CompanyTop500.list_code, CompanyTop500.year).where(
                CompanyTop500.company_id == company_id
            )
        )
    ]


def key_state(project: Project) -> dict[str, Any]:
    return {"is_key": project.is_key, "key_reasons": list(project.key_reasons or [])}


def recompute_key(session: Session, project: Project, *, today: date | None = None) -> None:
    """Set `is_key` and `key_reasons` from the investor's Top-500 tags (this or last year),
    the planned investment against the threshold, and a lead's manual mark."""
    reasons = key_reasons(
        planned_investment=project.planned_investment,
        threshold=key_threshold(session),
        top500=company_top500(session, project.company_id) if project.company_id else [],
        current_year=(today or local_today()).year,
        manual=project.key_manual,
        manual_reason=project.key_manual_reason,
    )
    if list(project.key_reasons or []) != reasons:
        project.key_reasons = reasons
    if project.is_key != bool(reasons):
        project.is_key = bool(reasons)


def recompute_company_keys(session: Session, company_id: int) -> int:
    """Recompute the key flags of a company's projects (call after its Top-500 tags change)."""
    projects = session.scalars(select(Project).where(Project.company_id == company_id)).all()
    for project in projects:
        recompute_key(session, project)
    session.flush()
    return len(projects)


def recompute_all_keys(session: Session, *, today: date | None = None) -> int:
    """Recompute every project's key flags in one pass; returns how many changed.

    One query reads the inputs of all projects, one the Top-500 tags of this and last year,
    and one executemany UPDATE writes the projects whose flags changed. The flags are
    derived data: the projects' versions are left alone, so nobody's open form goes stale.
    """
    year = (today or local_today()).year
    threshold = key_threshold(session)
    tags: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for company_id, code, tag_year in session.execute(
        select(CompanyTop500.company_id, CompanyTop500.list_code, CompanyTop500.year).where(
            CompanyTop500.year.in_((year, year - 1))
        )
    ):
        tags[company_id].append((code, tag_year))
    session.flush()
    rows = session.execute(
        select(
            Project.id,
            Project.company_id,
            Project.planned_investment,
            Project.key_manual,
            Project.key_manual_reason,
            Project.is_key,
            Project.key_reasons,
        )
    )
    changed = []
    for pid, company_id, amount, manual, manual_reason, is_key, stored in rows:
        reasons = key_reasons(
            planned_investment=amount,
            threshold=threshold,
            top500=tags.get(company_id, ()),
            current_year=year,
            manual=manual,
            manual_reason=manual_reason,
        )
        if reasons != list(stored or []) or is_key != bool(reasons):
            changed.append({"pid": pid, "flag": bool(reasons), "reasons": reasons})
    if changed:
        table = Project.__table__
        session.execute(
            table.update()
            .where(table.c.id == bindparam("pid"))
            .values(
                is_key=bindparam("flag"),
                key_reasons=bindparam("reasons", type_=table.c.key_reasons.type),
            ),
            changed,
        )
        session.expire_all()
    return len(changed)


def set_key_threshold(session: Session, value: Decimal, actor_id: int | None) -> int:
    """Set the key-project threshold (万元) and recompute every project; returns the changes."""
    if value <= 0 or value != value.quantize(Decimal("0.01")):
        raise ProjectError(_l("Enter a positive amount with at most two decimals."), "threshold")
    old = key_threshold(session)
    setting = session.get(Setting, THRESHOLD_SETTING)
    if setting is None:
        setting = Setting(key=THRESHOLD_SETTING, value="")
        session.add(setting)
    setting.value = format(value.quantize(Decimal("0.01")), "f")
    audit.record(
        session,
        user_id=actor_id,
        entity_type="setting",
        entity_id=0,
        action="update",
        changes={THRESHOLD_SETTING: [format(old, "f"), setting.value]},
    )
    session.flush()
    return recompute_all_keys(session)


def mark_key(session: Session, project: Project, actor: User, *, marked: bool, reason: str) -> None:
    """A lead marks (or unmarks) a project as key by hand; a reason is required either way."""
    if not can_lead(actor, project):
        raise NotAllowed("Only a lead of the project's team or an admin may mark key projects.")
    reason = (reason or "").strip()
    if not reason:
        raise ProjectError(_l("Give a reason."), "reason")
    if not marked and not project.key_manual:
        raise ProjectError(_l("The project is not marked as key by hand."), "reason")
    before = {**key_state(project), "key_manual": project.key_manual}
    before["key_manual_reason"] = project.key_manual_reason
    version = project.version
    with session.no_autoflush:
        project.key_manual = marked
        project.key_manual_reason = reason if marked else None
        recompute_key(session, project)
    after = {
        **key_state(project),
        "key_manual": marked,
        "key_manual_reason": project.key_manual_reason,
    }
    changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
    changes["reason"] = [None, reason]
    record_project_change(
        session,
        project,
        user_id=actor.id,
        action="key_mark" if marked else "key_unmark",
        changes=changes,
        version_before=version,
    )
