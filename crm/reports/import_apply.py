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

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.audit import AuditLog
from crm.audit import record as audit
from crm.enums import MAIN_STAGES, Role, Stage
from crm.pipeline.keys import key_reasons, key_threshold
from crm.pipeline.models import Company, CompanyTop500, Project, StageChange
from crm.pipeline.names import search_blob
from crm.reports.import_models import LedgerImport, LedgerImportChange
from crm.reports.import_plan import Plan, RowPlan, normalize_company_name, plain
from crm.reports.imports import LedgerImportError, Limits, replan

BATCH = 1000


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
    project_id: int,
    dates: dict[str, Any],
    start: Stage | None,
    to: Stage,
    today: date,
    note: str,
    user_id: int,
) -> list[dict[str, Any]]:
    """StageChange rows for moving a project from `start` to `to` with the ledger's dates."""
    rows, previous = [], start
    for stage in _stage_steps(start, to):
        day = dates.get(f"{stage.value}_on")
        if day is None and stage != to:
            continue  # a skipped stage the ledger gives no date for
        rows.append(
            {
                "project_id": project_id,
                "from_stage": previous,
                "to_stage": stage,
                "on": day or today,
                "user_id": user_id,
                "note": note,
                "at": datetime.now(UTC),
            }
        )
        previous = stage
    return rows


class _KeyRule:
    """Key-project reasons for many projects with one look-up of Top-500 listings."""

    def __init__(self, session: Session, company_ids: set[int], year: int) -> None:
        self.threshold = key_threshold(session)
        self.year = year
        self.lists: dict[int, list[tuple[str, int]]] = {}
        ids = sorted(company_ids)
        for start in range(0, len(ids), 500):
            for cid, code, y in session.execute(
                select(CompanyTop500.company_id, CompanyTop500.list_code, CompanyTop500.year).where(
                    CompanyTop500.company_id.in_(ids[start : start + 500])
                )
            ):
                self.lists.setdefault(cid, []).append((code, y))

    def reasons(
        self, company_id: int, amount: Any, manual: bool = False, why: str | None = None
    ) -> list[str]:
        return key_reasons(
            planned_investment=amount,
            threshold=self.threshold,
            top500=self.lists.get(company_id, []),
            current_year=self.year,
            manual=manual,
            manual_reason=why,
        )


def _same_keys(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every row with every key (None where absent): one INSERT statement serves them all."""
    keys = {key for row in rows for key in row}
    return [{key: row.get(key) for key in keys} for row in rows]


def _insert(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> list[int]:
    """Insert many rows in batches and return their ids, in the order given.

    PostgreSQL: multi-row INSERT ... RETURNING (ids in parameter order). SQLite cannot
    return them in order from one statement, so ids are assigned here: SQLite has a single
    writer and this transaction already holds the write lock (the import row was updated
    first), so nobody else can take them meanwhile.
    """
    if not rows:
        return []
    rows = _same_keys(rows)
    table = model.__table__
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        first = (connection.execute(select(func.max(table.c.id))).scalar() or 0) + 1
        ids = list(range(first, first + len(rows)))
        for row, new_id in zip(rows, ids, strict=True):
            row["id"] = new_id
        for start in range(0, len(rows), BATCH):
            connection.execute(insert(table), rows[start : start + BATCH])
        return ids
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = []
    for start in range(0, len(rows), BATCH):
        ids += list(connection.execute(statement, rows[start : start + BATCH]).scalars())
    return ids


def _project_audit(
    user_id: int, project_id: int, action: str, changes: dict[str, Any]
) -> dict[str, Any]:
    return {
        "at": datetime.now(UTC),
        "user_id": user_id,
        "entity_type": "project",
        "entity_id": project_id,
        "action": action,
        "changes": changes,
    }


def _new_companies(
    session: Session, plan: Plan, rows: list[RowPlan]
) -> tuple[dict[int, int], list[tuple[RowPlan, int]]]:
    """Create the companies the plan did not find; map each row to its company id."""
    company_of: dict[int, int] = {}
    pending: dict[str, tuple[RowPlan, dict[str, Any]]] = {}
    row_key: dict[int, str] = {}
    now = datetime.now(UTC)
    for row in rows:
        if row.company_id is not None:
            company = plan.companies[row.company_id]
            if company.deleted_at is not None:
                company.deleted_at = None  # revived (an undone import had created it)
            company_of[row.row] = company.id
            continue
        normalized = normalize_company_name(row.company_name)
        key = row.uscc or normalized
        row_key[row.row] = key
        if key not in pending:
            pending[key] = (
                row,
                {
                    "name": row.company_name,
                    "normalized_name": normalized,
                    "uscc": row.uscc,
                    "aliases": [],
                    "tags": [],
                    "search_blob": search_blob(row.company_name, [], None),
                    "created_at": now,
                    "updated_at": now,
                },
            )
    ids = _insert(session, Company, [values for _row, values in pending.values()])
    made = dict(zip(pending, ids, strict=True))
    for number, key in row_key.items():
        company_of[number] = made[key]
    return company_of, [(row, made[key]) for key, (row, _v) in pending.items()]


def apply(
    session: Session,
    user: User,
    record: LedgerImport,
    *,
    upload_dir: Path,
    limits: Limits,
    today: date,
) -> LedgerImport:
    """Write a validated import (all rows or none). Flushes; the caller commits.

    The rows validated at upload are matched against the database again (it may have
    changed since); new rows go in with batched INSERTs, updates through the ORM (with
    the optimistic version check). `upload_dir` and `limits` are kept for symmetry with
    the upload; the file is not read again.
    """
    if record.status != "validated":
        raise LedgerImportError(
            "status", "Only a validated import that was not applied can be applied.", 409
        )
    plan = replan(session, record)
    record.applied_by_id = user.id
    session.flush()  # a write first: on SQLite this transaction now holds the write lock
    note = f"ledger import #{record.id}"
    now = datetime.now(UTC)
    work = [row for row in plan.rows if row.action != "unchanged"]
    company_of, new_companies = _new_companies(session, plan, work)
    keys = _KeyRule(session, set(company_of.values()), today.year)

    creates = [row for row in work if row.action == "create"]
    project_rows = []
    for row in creates:
        company_id = company_of[row.row]
        values = {k: v for k, v in row.values.items() if v is not None}
        stage = row.stage or Stage.LEAD
        reasons = keys.reasons(company_id, values.get("planned_investment"))
        project_rows.append(
            {
                **values,
                "company_id": company_id,
                "team_id": record.team_id,
                "stage": stage,
                "lead_on": today if stage == Stage.LEAD else None,
                "created_by_id": user.id,
                "facts": {"ledger": row.facts} if row.facts else {},
                "key_reasons": reasons,
                "is_key": bool(reasons),
                "search_blob": search_blob(str(values.get("name")), [row.company_name], None),
                "last_activity_at": now,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
        )
    created_ids = _insert(session, Project, project_rows)

    updates: list[tuple[RowPlan, Project, Stage, int]] = []
    for row in work:
        if row.action != "update":
            continue
        project = plan.projects[row.project_id]  # type: ignore[index]
        start, version_before = project.stage, project.version
        for attr, value in row.values.items():
            if value is not None:
                setattr(project, attr, value)
        if row.facts:
            facts = dict(project.facts or {})
            facts["ledger"] = {**(facts.get("ledger") or {}), **row.facts}
            project.facts = facts
        if row.stage is not None:
            project.stage = row.stage
        reasons = keys.reasons(
            project.company_id, project.planned_investment, project.key_manual,
            project.key_manual_reason,
        )  # fmt: skip
        if reasons != list(project.key_reasons or []):
            project.key_reasons, project.is_key = reasons, bool(reasons)
        project.last_activity_at = now
        updates.append((row, project, start, version_before))
    session.flush()

    history: dict[int, list[int]] = {}
    planned_history: list[tuple[int, dict[str, Any]]] = []
    for pid, values in zip(created_ids, project_rows, strict=True):
        for change in _history(pid, values, None, values["stage"], today, note, user.id):
            planned_history.append((pid, change))
    for row, project, start, _version in updates:
        if row.stage is not None and row.stage != start:
            dates = {f"{s.value}_on": project.stage_date(s) for s in MAIN_STAGES}
            for change in _history(project.id, dates, start, row.stage, today, note, user.id):
                planned_history.append((project.id, change))
    change_ids = _insert(session, StageChange, [change for _pid, change in planned_history])
    for (pid, _change), change_id in zip(planned_history, change_ids, strict=True):
        history.setdefault(pid, []).append(change_id)

    entries = [
        {
            "import_id": record.id, "entity": "company", "entity_id": company_id,
            "action": "created", "row": row.row, "before": {},
            "after": {"name": row.company_name, "uscc": row.uscc}, "stage_change_ids": [],
        }
        for row, company_id in new_companies
    ]  # fmt: skip
    for row, pid in zip(creates, created_ids, strict=True):
        entries.append(
            {
                "import_id": record.id, "entity": "project", "entity_id": pid,
                "action": "created", "row": row.row, "before": {},
                "after": {k: plain(v) for k, v in row.values.items() if v is not None},
                "stage_change_ids": history.get(pid, []), "version_after": 1,
            }
        )  # fmt: skip
    for row, project, _start, _version in updates:
        entries.append(
            {
                "import_id": record.id, "entity": "project", "entity_id": project.id,
                "action": "updated", "row": row.row,
                "before": {attr: old for attr, (old, _new) in row.changes.items()},
                "after": {attr: new for attr, (_old, new) in row.changes.items()},
                "stage_change_ids": history.get(project.id, []),
                "version_after": project.version,
            }
        )  # fmt: skip
    _insert(session, LedgerImportChange, entries)
    # Each project's own change history (the project page reads these entries).
    marker = {"import": [None, f"#{record.id}"]}
    history_entries = [
        _project_audit(user.id, pid, "create", {
            **{k: [None, plain(v)] for k, v in row.values.items() if v is not None},
            "stage": [None, values["stage"].value], "version": [None, 1], **marker,
        })
        for row, pid, values in zip(creates, created_ids, project_rows, strict=True)
    ] + [
        _project_audit(user.id, project.id, "update", {
            **row.changes, "version": [version, project.version], **marker,
        })
        for row, project, _start, version in updates
    ]  # fmt: skip
    _insert(session, AuditLog, history_entries)
    record.status = "applied"
    record.applied_at = now
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
    marker = {"undo_import": [None, f"#{record.id}"]}
    undone: list[tuple[Project, str, dict[str, Any], int]] = []
    for entry in entries:
        if entry.entity != "project":
            continue
        project = projects[entry.entity_id]
        version = project.version
        if entry.action == "created":
            project.deleted_at = now
            undone.append((project, "delete", {"deleted_at": [None, now.isoformat()]}, version))
            continue
        for attr, old in entry.before.items():
            _restore(project, attr, old)
        restored = {a: [entry.after.get(a), old] for a, old in entry.before.items()}
        undone.append((project, "update", restored, version))
    session.flush()
    _insert(
        session,
        AuditLog,
        [
            _project_audit(admin.id, p.id, action, {**changes, "version": [v, p.version], **marker})
            for p, action, changes, v in undone
        ],
    )
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
