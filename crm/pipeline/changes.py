"""A project's change record: audit entries tied to the version they produced.

Every change to a project goes through `record_project_change`, which flushes first so the
entry can say which version it turned the project from and into (`changes["version"]`).
That is what lets an edit refused for being stale say what the other person changed
(`changes_since`), and what the history page and the API's history list read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import User
from crm.audit import AuditLog
from crm.pipeline.models import Project

ENTITY = "project"
VERSION_KEY = "version"
# Entries looked at when working out a conflict: a stale form is minutes old, not months.
CONFLICT_LOOKBACK = 200


def record_project_change(
    session: Session,
    project: Project,
    *,
    user_id: int | None,
    action: str,
    changes: dict[str, Any],
    version_before: int | None = None,
) -> AuditLog:
    """Flush `project`, then add an audit entry with its changes and version step.

    `changes` maps a field to `[before, after]` (JSON-ready values). When the project's
    version went up (since `version_before`, read before the change started, or else
    since now), `changes["version"]` is `[before, after]` too. Flushes again.
    """
    before = project.version if version_before is None else version_before
    session.flush()
    entry_changes = dict(changes)
    if project.version != before:
        entry_changes[VERSION_KEY] = [before, project.version]
    entry = audit.record(
        session,
        user_id=user_id,
        entity_type=ENTITY,
        entity_id=project.id,
        action=action,
        changes=entry_changes,
    )
    session.flush()
    return entry


@dataclass(frozen=True)
class FieldChange:
    """A field someone else changed: its latest value, who set it and when."""

    field: str
    value: Any
    user_id: int | None
    user_name: str | None
    at: datetime
    action: str


def changes_since(session: Session, project_id: int, version: int) -> list[FieldChange]:
    """What changed on the project since `version`, one row per field (its latest value).

    Read from the audit entries whose version step starts at `version` or later.
    """
    rows = session.execute(
        select(AuditLog, User.name, User.email)
        .outerjoin(User, User.id == AuditLog.user_id)
        .where(AuditLog.entity_type == ENTITY, AuditLog.entity_id == project_id)
        .order_by(AuditLog.id.desc())
        .limit(CONFLICT_LOOKBACK)
    ).all()
    latest: dict[str, FieldChange] = {}
    for entry, name, email in rows:
        step = (entry.changes or {}).get(VERSION_KEY)
        if not (isinstance(step, list) and len(step) == 2 and isinstance(step[0], int)):
            continue
        if step[1] <= version:
            break  # entries are newest first: everything further back is known
        for field, pair in entry.changes.items():
            if field == VERSION_KEY or field in latest:
                continue
            value = pair[1] if isinstance(pair, list) and len(pair) == 2 else pair
            latest[field] = FieldChange(
                field=field,
                value=value,
                user_id=entry.user_id,
                user_name=(name or email) if entry.user_id else None,
                at=entry.at,
                action=entry.action,
            )
    return sorted(latest.values(), key=lambda c: c.field)


@dataclass(frozen=True)
class HistoryEntry:
    entry: AuditLog
    user_name: str | None

    @property
    def field_changes(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for each field-level change, the version step left out."""
        out = []
        for field, pair in (self.entry.changes or {}).items():
            if field == VERSION_KEY:
                continue
            if isinstance(pair, list) and len(pair) == 2:
                out.append((field, pair[0], pair[1]))
            else:
                out.append((field, None, pair))
        return out


def project_history(
    session: Session, project_id: int, *, limit: int, offset: int = 0
) -> tuple[list[HistoryEntry], int]:
    """A page of the project's audit entries, newest first, with the total count."""
    where = (AuditLog.entity_type == ENTITY, AuditLog.entity_id == project_id)
    total = session.scalar(select(func.count()).select_from(AuditLog).where(*where)) or 0
    rows = session.execute(
        select(AuditLog, User.name, User.email)
        .outerjoin(User, User.id == AuditLog.user_id)
        .where(*where)
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        HistoryEntry(entry, (name or email) if email else None) for entry, name, email in rows
    ], int(total)
