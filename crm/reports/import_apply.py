"""Applying a validated ledger import, and undoing it.

`apply` reads the kept file again, validates and plans it against the database as it is
now, and writes every row or (on any error) nothing: it only flushes, and the caller
commits once. Each created or updated project, and each created company, gets a
`LedgerImportChange` with the values before, so `undo` can restore them. Stage history:
each stage a row moves a project into becomes a `StageChange` dated with the ledger's date
for that stage (the import day when the ledger gives none), noted with the import.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.audit import record as audit
from crm.enums import MAIN_STAGES, Role, Stage
from crm.pipeline.keys import key_reasons, key_threshold
from crm.pipeline.models import Company, CompanyTop500, Project, StageChange
from crm.pipeline.names import normalize_company_name, search_blob
from crm.reports.import_models import LedgerImport, LedgerImportChange
from crm.reports.import_plan import Plan, RowPlan, plain
from crm.reports.imports import LedgerImportError, Limits, evaluate, read


def _stage_steps(start: Stage | None, to: Stage) -> list[Stage]:
    """The main stages passed through moving from `start` to `to` (side states: just `to`)."""
    if to not in MAIN_STAGES:
        return [to]
    begin = MAIN_STAGES.index(start) + 1 if start in MAIN_STAGES else 0
    end = MAIN_STAGES.index(to)
    if begin > end:
        return [to]  # backwards
    return list(MAIN_STAGES[begin : end + 1])


def _history(
    project: Project, start: Stage | None, to: Stage, today: date, note: str, user_id: int
) -> list[StageChange]:
    rows, previous = [], start
    for stage in _stage_steps(start, to):
        day = project.stage_date(stage) if stage != Stage.LEAD else project.lead_on
        if day is None and stage != to:
            continue  # a skipped stage the ledger gives no date for
        rows.append(
            StageChange(
                project_id=project.id,
                from_stage=previous,
                to_stage=stage,
                on=day or today,
                user_id=user_id,
                note=note,
            )
        )
        previous = stage
    return rows


def _key_flags(session: Session, projects: list[Project], year: int) -> None:
    """Recompute the key-project flag of the created or updated projects (bulk look-up)."""
    threshold = key_threshold(session)
    company_ids = sorted({p.company_id for p in projects})
    lists: dict[int, list[tuple[str, int]]] = {}
    for start in range(0, len(company_ids), 500):
        for cid, code, y in session.execute(
            select(CompanyTop500.company_id, CompanyTop500.list_code, CompanyTop500.year).where(
                CompanyTop500.company_id.in_(company_ids[start : start + 500])
            )
        ):
            lists.setdefault(cid, []).append((code, y))
    for p in projects:
        reasons = key_reasons(
            planned_investment=p.planned_investment,
            threshold=threshold,
            top500=lists.get(p.company_id, []),
            current_year=year,
            manual=p.key_manual,
            manual_reason=p.key_manual_reason,
        )
        if reasons != list(p.key_reasons or []):
            p.key_reasons = reasons
            p.is_key = bool(reasons)


def _company(
    session: Session, plan: RowPlan, known: Plan, made: dict[str, Company]
) -> tuple[Company, bool]:
    """The row's company: found by the plan, made earlier in this import, or new."""
    if plan.company_id is not None:
        company = known.companies[plan.company_id]
        if company.deleted_at is not None:
            company.deleted_at = None  # revived (an undone import had created it)
        return company, False
    key = plan.uscc or normalize_company_name(plan.company_name)
    if key in made:
        return made[key], False
    company = Company(
        name=plan.company_name,
        normalized_name=normalize_company_name(plan.company_name),
        uscc=plan.uscc,
        aliases=[],
        tags=[],
        search_blob=search_blob(plan.company_name, [], None),
    )
    session.add(company)
    made[key] = company
    made[normalize_company_name(plan.company_name)] = company
    return company, True


def apply(
    session: Session,
    user: User,
    record: LedgerImport,
    *,
    upload_dir: Path,
    limits: Limits,
    today: date,
) -> LedgerImport:
    """Write a validated import (all rows or none). Flushes; the caller commits."""
    if record.status != "validated":
        raise LedgerImportError(
            "status", "Only a validated import that was not applied can be applied.", 409
        )
    table = read(record, upload_dir, limits)
    mapping = {int(k): v for k, v in record.mapping.items()}
    plan = evaluate(session, record, table, mapping)
    if plan is None:
        raise LedgerImportError("invalid", "The file no longer passes validation.")
    note = f"ledger import #{record.id}"
    made: dict[str, Company] = {}
    changes: list[tuple[RowPlan, Project, bool, dict[str, Any], Stage | None]] = []
    new_companies: list[tuple[RowPlan, Company]] = []
    for row in plan.rows:
        if row.action == "unchanged":
            continue
        company, created_company = _company(session, row, plan, made)
        if created_company:
            new_companies.append((row, company))
        if row.action == "create":
            project = Project(
                company=company,
                team_id=record.team_id,
                stage=Stage.LEAD,
                created_by_id=user.id,
                facts={},
                key_reasons=[],
                search_blob=search_blob(str(row.values.get("name")), [company.name], None),
                last_activity_at=datetime.now(UTC),
            )
            session.add(project)
            before: dict[str, Any] = {}
            start: Stage | None = None
        else:
            project = plan.projects[row.project_id]  # type: ignore[index]
            before = {attr: old for attr, (old, _new) in row.changes.items()}
            start = project.stage
        for attr, value in row.values.items():
            if value is not None:
                setattr(project, attr, value)
        if row.facts:
            facts = dict(project.facts or {})
            facts["ledger"] = {**(facts.get("ledger") or {}), **row.facts}
            project.facts = facts
        if row.stage is not None and row.stage != project.stage:
            project.stage = row.stage
            if row.stage == Stage.LEAD and project.lead_on is None:
                project.lead_on = today
        changes.append((row, project, row.action == "create", before, start))
    session.flush()  # ids for the new companies and projects

    touched = [project for _row, project, *_rest in changes]
    _key_flags(session, touched, today.year)
    history: dict[int, list[StageChange]] = {}
    for row, project, _created, _before, start in changes:
        if row.stage is not None and (start is None or start != row.stage):
            steps = _history(project, start, row.stage, today, note, user.id)
            session.add_all(steps)
            history[project.id] = steps
    session.flush()
    for row, company in new_companies:
        session.add(
            LedgerImportChange(
                import_id=record.id, entity="company", entity_id=company.id, action="created",
                row=row.row, after={"name": company.name, "uscc": company.uscc},
            )
        )  # fmt: skip
    for row, project, created, before, _start in changes:
        session.add(
            LedgerImportChange(
                import_id=record.id,
                entity="project",
                entity_id=project.id,
                action="created" if created else "updated",
                row=row.row,
                before=before,
                after={k: plain(v) for k, v in row.values.items() if v is not None},
                stage_change_ids=[s.id for s in history.get(project.id, [])],
                version_after=project.version,
            )
        )
    record.status = "applied"
    record.applied_at = datetime.now(UTC)
    record.applied_by_id = user.id
    audit(
        session,
        user_id=user.id,
        entity_type="ledger_import",
        entity_id=record.id,
        action="apply",
        changes={
            "created": record.create_count,
            "updated": record.update_count,
            "unchanged": record.unchanged_count,
        },
    )
    session.flush()
    return record


def undo(session: Session, admin: User, record: LedgerImport) -> LedgerImport:
    """Take an applied import back: restore updated values, remove what it created.

    Created projects and companies are deleted (soft, like every deletion in the app) and
    the stage history the import wrote is removed. Refused when a project it touched has
    changed since (its version moved on), so nobody's later work is silently overwritten.
    """
    if admin.role != Role.ADMIN:
        raise LedgerImportError("forbidden", "Only an administrator can undo an import.", 403)
    if record.status != "applied":
        raise LedgerImportError("status", "Only an applied import can be undone.", 409)
    entries = list(
        session.scalars(
            select(LedgerImportChange)
            .where(LedgerImportChange.import_id == record.id)
            .order_by(LedgerImportChange.id.desc())
        )
    )
    project_ids = [e.entity_id for e in entries if e.entity == "project"]
    projects = {
        p.id: p for p in session.scalars(select(Project).where(Project.id.in_(project_ids)))
    } if project_ids else {}  # fmt: skip
    moved = sorted(
        e.row or 0
        for e in entries
        if e.entity == "project"
        and (p := projects.get(e.entity_id)) is not None
        and p.version != e.version_after
    )
    if moved:
        rows = ", ".join(str(r) for r in moved[:20])
        raise LedgerImportError(
            "changed_since",
            f"Projects from rows {rows} have changed since the import; undo refused.",
            409,
        )
    now = datetime.now(UTC)
    stage_ids = [i for e in entries for i in (e.stage_change_ids or [])]
    for start in range(0, len(stage_ids), 500):
        session.execute(
            delete(StageChange).where(StageChange.id.in_(stage_ids[start : start + 500]))
        )
    created_companies = [e.entity_id for e in entries if e.entity == "company"]
    for entry in entries:
        if entry.entity != "project":
            continue
        project = projects[entry.entity_id]
        if entry.action == "created":
            project.deleted_at = now
            continue
        for attr, old in entry.before.items():
            _restore(project, attr, old)
    session.flush()
    if created_companies:
        still_used = set(
            session.scalars(
                select(Project.company_id).where(
                    Project.company_id.in_(created_companies), Project.deleted_at.is_(None)
                )
            )
        )
        for company in session.scalars(select(Company).where(Company.id.in_(created_companies))):
            if company.id not in still_used:
                company.deleted_at = now
    record.status = "undone"
    record.undone_at = now
    record.undone_by_id = admin.id
    audit(
        session, user_id=admin.id, entity_type="ledger_import", entity_id=record.id,
        action="undo", changes={"entries": len(entries)},
    )  # fmt: skip
    session.flush()
    return record


DATE_ATTRS = frozenset({"lead_on", "signed_on", "landed_on", "started_on", "operating_on"})
DECIMAL_ATTRS = frozenset(
    {
        "planned_investment",
        "fixed_asset_investment",
        "funds_in_place_total",
        "land_mu",
        "expected_annual_output",
        "expected_annual_tax",
    }
)
INT_ATTRS = frozenset({"jobs", "chain_id", "source_region_id", "owner_id"})


def _restore(project: Project, attr: str, old: Any) -> None:
    """Put back a value as recorded before the import (JSON form: dates and amounts as text)."""
    if attr.startswith("facts."):
        key = attr.split(".", 1)[1]
        facts = dict(project.facts or {})
        ledger_facts = dict(facts.get("ledger") or {})
        if old is None:
            ledger_facts.pop(key, None)
        else:
            ledger_facts[key] = old
        facts["ledger"] = ledger_facts
        project.facts = facts
        return
    if old is None:
        value: Any = None
    elif attr == "stage":
        value = Stage(old)
    elif attr in DATE_ATTRS:
        value = date.fromisoformat(old)
    elif attr in DECIMAL_ATTRS:
        value = Decimal(old)
    elif attr in INT_ATTRS:
        value = int(old)
    else:
        value = old
    setattr(project, attr, value)
