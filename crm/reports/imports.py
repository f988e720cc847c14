"""Importing a project ledger (台账): upload, map, validate, preview (nothing written yet).

`upload` keeps the file and its validation result as a `LedgerImport`; `remap` validates it
again under another column mapping; `import_apply.apply` writes it in one transaction and
`import_apply.undo` takes it back. Reading and checking cells is `crm.reports.ledger`'s
work (docs/ledger-import.md); this module adds what needs the database: which team the
rows belong to, which rows match existing projects (same external id, else same company
and project name, within that team) and what would change.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.accounts.models import Team, User
from crm.enums import Role
from crm.reference.models import IndustrialChain
from crm.reference.uscc import uscc_error
from crm.reports import import_plan, ledger
from crm.reports.import_models import LedgerImport, LedgerMapping

PREVIEW_ROWS = 20
MAX_STORED_ISSUES = 2000
IMPORT_ROLES = (Role.ADMIN, Role.LEAD, Role.OFFICER)


class LedgerImportError(Exception):
    """The import cannot go on; `code` is stable, the message is for the user."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_rows: int


def limits_from(config: Any) -> Limits:
    return Limits(
        max_bytes=int(config.get("CRM_IMPORT_MAX_MB") or config.get("CRM_MAX_UPLOAD_MB", 20))
        * 1024
        * 1024,
        max_rows=int(config.get("CRM_IMPORT_MAX_ROWS") or 20000),
    )


def import_team(session: Session, user: User, team_code: str | None) -> Team:
    """The team imported rows belong to: the user's own, or (admins) the one chosen."""
    if user.role not in IMPORT_ROLES:
        raise LedgerImportError("forbidden", "Your role may not import ledgers.", 403)
    if user.role == Role.ADMIN and team_code:
        team = session.scalar(select(Team).where(Team.code == team_code))
        if team is None:
            raise LedgerImportError("team", f"No team with code '{team_code}'.")
        return team
    if team_code and user.role != Role.ADMIN:
        own = session.get(Team, user.team_id) if user.team_id else None
        if own is None or own.code != team_code:
            raise LedgerImportError("team", "You can import only into your own team.", 403)
    if user.team_id is None:
        raise LedgerImportError("team", "Choose the team the projects belong to.")
    team = session.get(Team, user.team_id)
    assert team is not None
    return team


def known_chains(session: Session) -> dict[str, str]:
    """Chain names, aliases and codes -> code (current, unretired chains)."""
    lookup: dict[str, str] = {}
    for code, zh, en, aliases in session.execute(
        select(
            IndustrialChain.code,
            IndustrialChain.name_zh,
            IndustrialChain.name_en,
            IndustrialChain.aliases_zh,
        ).where(IndustrialChain.retired.is_(False))
    ):
        for name in (code, zh, en, *(aliases or [])):
            if name:
                lookup.setdefault(name, code)
    return lookup


_SAFE_NAME = re.compile(r"[^\w.\-]+", re.UNICODE)


def _stored_name(filename: str) -> str:
    name = _SAFE_NAME.sub("_", Path(filename).name).strip("._") or "ledger"
    return name[-120:]


def read(record: LedgerImport, upload_dir: Path, limits: Limits) -> ledger.Table:
    data = (upload_dir / record.path).read_bytes()
    return ledger.read_table(data, record.filename, limits.max_bytes, limits.max_rows)


def _mapping_of(record: LedgerImport) -> dict[int, str | None]:
    return {int(k): v for k, v in (record.mapping or {}).items()}


def remembered_mapping(session: Session, signature: str) -> dict[int, str | None] | None:
    saved = session.get(LedgerMapping, signature)
    if saved is None:
        return None
    return {int(k): v for k, v in saved.mapping.items()}


def remember_mapping(
    session: Session, headers: list[str], mapping: dict[int, str | None], user_id: int
) -> None:
    signature = ledger.header_signature(headers)
    saved = session.get(LedgerMapping, signature)
    stored = {str(k): v for k, v in sorted(mapping.items())}
    if saved is None:
        session.add(
            LedgerMapping(
                signature=signature, headers=list(headers), mapping=stored, updated_by_id=user_id
            )
        )
    elif saved.mapping != stored:
        saved.mapping = stored
        saved.headers = list(headers)
        saved.updated_by_id = user_id


def _issue_dict(issue: ledger.Issue) -> dict[str, Any]:
    value = issue.value
    if value is not None and not isinstance(value, int | float | str | bool):
        value = str(value)
    return {
        "row": issue.row,
        "column": issue.column,
        "value": value,
        "message": issue.message,
        "code": issue.code,
        "severity": issue.severity,
        "field": issue.field,
    }


def evaluate(
    session: Session, record: LedgerImport, table: ledger.Table, mapping: dict[int, str | None]
) -> import_plan.Plan | None:
    """Validate `table` under `mapping`, plan the rows, and store the result on `record`."""
    report = ledger.validate_rows(table, mapping, known_chains(session), uscc_error)
    record.mapping = {str(k): v for k, v in sorted(mapping.items())}
    record.rows_total = report.rows_total
    record.error_count = len(report.errors)
    record.warning_count = len(report.warnings)
    issues = sorted(report.issues, key=lambda i: (i.severity != "error", i.row))
    record.result = {
        "issues": [_issue_dict(i) for i in issues[:MAX_STORED_ISSUES]],
        "issues_total": len(issues),
        "skipped_rows": report.skipped_rows,
        "header_recognised": table.header_recognised,
    }
    if not report.ok:
        record.status = "invalid"
        record.valid_rows = []
        record.create_count = record.update_count = record.unchanged_count = 0
        record.result = {**record.result, "preview": [], "actions": []}
        session.flush()
        return None
    record.status = "validated"
    record.valid_rows = import_plan.dump_rows(report.valid_rows)
    return replan(session, record, report.valid_rows)


def replan(
    session: Session, record: LedgerImport, rows: list[ledger.ValidRow] | None = None
) -> import_plan.Plan:
    """Match the validated rows against the database as it is now; store counts and preview."""
    if rows is None:
        rows = import_plan.load_rows(record.valid_rows)
    plan = import_plan.plan_rows(session, record.team_id, rows)
    record.create_count = plan.count("create")
    record.update_count = plan.count("update")
    record.unchanged_count = plan.count("unchanged")
    record.result = {
        **(record.result or {}),
        "actions": [[p.row, p.action, p.project_id] for p in plan.rows],
        "preview": [p.preview() for p in plan.rows[:PREVIEW_ROWS]],
    }
    session.flush()
    return plan


@dataclass
class Uploaded:
    record: LedgerImport
    table: ledger.Table
    plan: import_plan.Plan | None = field(default=None)


def upload(
    session: Session,
    user: User,
    filename: str,
    data: bytes,
    *,
    upload_dir: Path,
    limits: Limits,
    team_code: str | None = None,
    mapping: dict[int, str | None] | None = None,
) -> Uploaded:
    """Keep an uploaded ledger and validate it (nothing else is written).

    Refuses (LedgerImportError, code from LedgerFileError) files that are not spreadsheets, are
    encrypted, too large or hold too many rows; nothing is kept then. The mapping is the
    one given, else the one remembered for this header layout, else the guessed one.
    """
    team = import_team(session, user, team_code)
    try:
        table = ledger.read_table(data, filename, limits.max_bytes, limits.max_rows)
    except ledger.LedgerFileError as exc:
        raise LedgerImportError(exc.code, str(exc)) from exc
    signature = ledger.header_signature(table.headers)
    if mapping is None:
        mapping = remembered_mapping(session, signature) or ledger.guess_mapping(table.headers)
    record = LedgerImport(
        filename=Path(filename).name[:255] or "ledger",
        path="",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        file_type=table.file_type,
        user_id=user.id,
        team_id=team.id,
        status="invalid",
        header_signature=signature,
        headers=list(table.headers),
    )
    session.add(record)
    session.flush()
    relative = Path("imports") / str(record.id) / _stored_name(filename)
    target = upload_dir / relative
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)  # never a half-written file under the final name
    except OSError as exc:
        raise LedgerImportError(
            "storage",
            str(_l("The file could not be stored (upload folder not writable or disk full).")),
            503,
        ) from exc
    record.path = relative.as_posix()
    plan = evaluate(session, record, table, mapping)
    return Uploaded(record, table, plan)


def remap(
    session: Session,
    user: User,
    record: LedgerImport,
    mapping: dict[int, str | None],
    *,
    upload_dir: Path,
    limits: Limits,
) -> Uploaded:
    """Validate a kept upload again under the user's mapping, and remember that mapping."""
    if record.status not in ("invalid", "validated"):
        raise LedgerImportError("status", "This import has already been applied.", 409)
    table = read(record, upload_dir, limits)
    mapping = {i: mapping.get(i) for i in range(len(table.headers))}
    plan = evaluate(session, record, table, mapping)
    remember_mapping(session, table.headers, mapping, user.id)
    return Uploaded(record, table, plan)


def visible_imports_clause(user: User) -> Any:
    """Admins see every import; others see their team's."""
    if user.role == Role.ADMIN:
        return LedgerImport.id.is_not(None)
    return LedgerImport.team_id == (user.team_id or -1)


def get_visible(session: Session, user: User, import_id: int) -> LedgerImport | None:
    if user.role not in IMPORT_ROLES:
        return None
    return session.scalar(
        select(LedgerImport).where(LedgerImport.id == import_id, visible_imports_clause(user))
    )
