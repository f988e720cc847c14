"""Administrators' changes to the current chain set: add a chain, rename it (and confirm it
or note its source), retire or restore it, merge one chain into another.

Chains are versioned reference data (docs/reference-data.md): a retired chain stays, so
the projects tagged with it keep it, but pickers no longer offer it. A merge moves the
projects of one chain to another chain of the same set and retires the merged one; it is
recorded on both chains and on every moved project. Every change is audited under
`CHAIN_AUDIT_ENTITY`, which is also how `crm seed` knows to leave the chain as it is.
Services flush; the caller commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.audit import AuditLog, record
from crm.db import utcnow
from crm.pipeline.changes import ENTITY as PROJECT_ENTITY
from crm.pipeline.changes import VERSION_KEY
from crm.pipeline.models import Project
from crm.reference.models import CHAIN_AUDIT_ENTITY, ChainMapping, ChainSet, IndustrialChain

CODE_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_CODE, MAX_NAME_ZH, MAX_NAME_EN, MAX_SOURCE = 64, 200, 300, 2000
EDITABLE = ("name_zh", "name_en", "confirmed", "source", "retired")


class ChainError(ValueError):
    """A change refused; `field` names the input at fault, `conflict` marks a taken code."""

    def __init__(self, field: str, message: Any, *, conflict: bool = False) -> None:
        super().__init__(str(message))
        self.field = field
        self.conflict = conflict


@dataclass
class ChainRow:
    chain: IndustrialChain
    projects: int  # projects (not deleted) tagged with the chain


@dataclass(frozen=True)
class ChangeRow:
    entry: AuditLog
    chain_code: str | None
    user_name: str | None

    @property
    def details(self) -> list[str]:
        """The entry's changes as short texts: "field: before → after", "field: value"."""
        out = []
        for key, value in (self.entry.changes or {}).items():
            if isinstance(value, list) and len(value) == 2 and key != "aliases_added":
                out.append(f"{key}: {value[0]} → {value[1]}")
            elif isinstance(value, list):
                out.append(f"{key}: {'、'.join(str(v) for v in value) or '—'}")
            else:
                out.append(f"{key}: {value}")
        return out


def current_set(session: Session) -> ChainSet | None:
    return session.scalar(
        select(ChainSet).where(ChainSet.current.is_(True)).order_by(ChainSet.id).limit(1)
    )


def get_chain(session: Session, code: str) -> IndustrialChain | None:
    """The chain with this code in the current set (retired ones included)."""
    return session.scalar(
        select(IndustrialChain)
        .join(ChainSet, ChainSet.id == IndustrialChain.set_id)
        .where(ChainSet.current.is_(True), IndustrialChain.code == code)
        .order_by(IndustrialChain.id)
        .limit(1)
    )


def project_counts(
    session: Session, chain_ids: list[int], *, include_deleted: bool = False
) -> dict[int, int]:
    """Projects per chain, all teams (deleted ones only when asked): one GROUP BY query."""
    if not chain_ids:
        return {}
    where = [Project.chain_id.in_(chain_ids)]
    if not include_deleted:
        where.append(Project.deleted_at.is_(None))
    rows = session.execute(
        select(Project.chain_id, func.count()).where(*where).group_by(Project.chain_id)
    ).all()
    return {int(cid): int(n) for cid, n in rows}


def chain_rows(session: Session, chain_set: ChainSet) -> list[ChainRow]:
    """The set's chains in the city's order (retired ones last), with their project counts."""
    chains = list(
        session.scalars(
            select(IndustrialChain)
            .where(IndustrialChain.set_id == chain_set.id)
            .order_by(IndustrialChain.retired, IndustrialChain.sort, IndustrialChain.id)
        )
    )
    counts = project_counts(session, [c.id for c in chains])
    return [ChainRow(c, counts.get(c.id, 0)) for c in chains]


def recent_changes(session: Session, limit: int = 20) -> list[ChangeRow]:
    """The latest administrators' changes to chains, newest first: one query."""
    rows = session.execute(
        select(AuditLog, IndustrialChain.code, User.name, User.email)
        .outerjoin(IndustrialChain, IndustrialChain.id == AuditLog.entity_id)
        .outerjoin(User, User.id == AuditLog.user_id)
        .where(AuditLog.entity_type == CHAIN_AUDIT_ENTITY)
        .order_by(AuditLog.id.desc())
        .limit(limit)
    ).all()
    return [ChangeRow(entry, code, name or email) for entry, code, name, email in rows]


# --- checking input ----------------------------------------------------------------------


def clean_code(value: str | None) -> str:
    code = (value or "").strip().lower()
    if not code:
        raise ChainError("code", _l("Enter a code."))
    if len(code) > MAX_CODE:
        raise ChainError("code", _l("A code has at most %(n)d characters.", n=MAX_CODE))
    if not CODE_PATTERN.match(code):
        raise ChainError(
            "code", _l("Use lowercase letters, digits and hyphens, e.g. new-materials.")
        )
    return code


def clean_values(values: dict[str, Any]) -> dict[str, Any]:
    """Names trimmed and required, the source note trimmed (empty: none), flags as bools."""
    out: dict[str, Any] = {}
    if "name_zh" in values:
        name = (values["name_zh"] or "").strip()
        if not name:
            raise ChainError("name_zh", _l("Enter the Chinese name."))
        if len(name) > MAX_NAME_ZH:
            raise ChainError("name_zh", _l("At most %(n)d characters.", n=MAX_NAME_ZH))
        out["name_zh"] = name
    if "name_en" in values:
        name_en = (values["name_en"] or "").strip()
        if len(name_en) > MAX_NAME_EN:
            raise ChainError("name_en", _l("At most %(n)d characters.", n=MAX_NAME_EN))
        out["name_en"] = name_en
    if "source" in values:
        source = (values["source"] or "").strip()
        if len(source) > MAX_SOURCE:
            raise ChainError("source", _l("At most %(n)d characters.", n=MAX_SOURCE))
        out["source"] = source or None
    for flag in ("confirmed", "retired"):
        if flag in values and values[flag] is not None:
            out[flag] = bool(values[flag])
    return out


# --- changes -----------------------------------------------------------------------------


def add_chain(
    session: Session, chain_set: ChainSet, values: dict[str, Any], *, actor_id: int | None
) -> IndustrialChain:
    """Add a chain at the end of the set. The code must be new in the set (conflict)."""
    code = clean_code(values.get("code"))
    data = clean_values({"name_zh": values.get("name_zh"), **values})
    taken = session.scalar(
        select(IndustrialChain.id).where(
            IndustrialChain.set_id == chain_set.id, IndustrialChain.code == code
        )
    )
    if taken is not None:
        raise ChainError("code", _l("A chain with this code already exists."), conflict=True)
    last = session.scalar(
        select(func.max(IndustrialChain.sort)).where(IndustrialChain.set_id == chain_set.id)
    )
    chain = IndustrialChain(
        set_id=chain_set.id,
        code=code,
        name_zh=data["name_zh"],
        name_en=data.get("name_en") or data["name_zh"],
        confirmed=data.get("confirmed", False),
        source=data.get("source"),
        aliases_zh=[],
        sort=(last or 0) + 1,
        retired=False,
    )
    session.add(chain)
    session.flush()
    _audit(session, actor_id, chain, "create", {"code": code, "name_zh": chain.name_zh})
    return chain


def update_chain(
    session: Session, chain: IndustrialChain, values: dict[str, Any], *, actor_id: int | None
) -> dict[str, list[Any]]:
    """Change the given fields of `chain` (names, confirmed, source, retired); returns what
    changed as {field: [before, after]}. A Chinese name replaced by another is kept among
    the chain's aliases, so ledgers using the old wording still match it."""
    data = clean_values({k: v for k, v in values.items() if k in EDITABLE})
    if "name_en" in data and not data["name_en"]:
        data["name_en"] = data.get("name_zh", chain.name_zh)
    changes = {
        key: [getattr(chain, key), value]
        for key, value in data.items()
        if getattr(chain, key) != value
    }
    if not changes:
        return {}
    if "name_zh" in changes:
        chain.aliases_zh = _unique([*(chain.aliases_zh or []), chain.name_zh], data["name_zh"])
    for key, (_before, after) in changes.items():
        setattr(chain, key, after)
    session.flush()
    action = "update"
    if set(changes) == {"retired"}:
        action = "retire" if chain.retired else "restore"
    _audit(session, actor_id, chain, action, changes)
    return changes


@dataclass(frozen=True)
class MergeSummary:
    source: str
    target: str
    projects: int
    aliases_added: list[str]


def merge_chain(
    session: Session,
    source: IndustrialChain,
    target: IndustrialChain,
    *,
    actor_id: int | None,
) -> MergeSummary:
    """Merge `source` into `target` (same set): every project tagged with `source` (deleted
    ones too) moves to `target` with `version + 1` and an audit entry; mappings follow;
    `source`'s names become aliases of `target`; `source` is retired, not deleted."""
    if source.id == target.id:
        raise ChainError("into", _l("A chain cannot be merged into itself."))
    if source.set_id != target.set_id:
        raise ChainError("into", _l("Chains of different sets are linked by a mapping."))
    if target.retired:
        raise ChainError(
            "into", _l("The chain to keep is retired: restore it first."), conflict=True
        )
    moved = _move_projects(session, source, target, actor_id)
    _move_mappings(session, source.id, target.id)
    before = list(target.aliases_zh or [])
    names = [*before, source.name_zh, *(source.aliases_zh or [])]
    target.aliases_zh = _unique(names, target.name_zh)
    added = [a for a in target.aliases_zh if a not in before]
    was_retired = source.retired
    source.retired = True
    session.flush()
    details = {"from": source.code, "into": target.code, "projects": moved}
    _audit(session, actor_id, target, "merge", {**details, "aliases_added": added})
    _audit(session, actor_id, source, "merged_into", {**details, "retired": [was_retired, True]})
    return MergeSummary(source.code, target.code, moved, added)


def _move_projects(
    session: Session, source: IndustrialChain, target: IndustrialChain, actor_id: int | None
) -> int:
    """One read, one bulk UPDATE and one bulk audit INSERT, whatever the number of projects."""
    rows = session.execute(
        select(Project.id, Project.version).where(Project.chain_id == source.id)
    ).all()
    if not rows:
        return 0
    session.execute(
        update(Project)
        .where(Project.chain_id == source.id)
        .values(chain_id=target.id, version=Project.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.add_all(
        AuditLog(
            user_id=actor_id,
            entity_type=PROJECT_ENTITY,
            entity_id=pid,
            action="chain_merge",
            changes={"chain": [source.code, target.code], VERSION_KEY: [version, version + 1]},
        )
        for pid, version in rows
    )
    moved = {pid for pid, _version in rows}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Project) and obj.id in moved:
            session.expire(obj)  # an open edit must reload (its version went up)
    return len(rows)


def _move_mappings(session: Session, source_id: int, target_id: int) -> None:
    """Mappings from or to the merged chain now use the kept one (duplicates dropped)."""
    for end, other in (("from_chain_id", "to_chain_id"), ("to_chain_id", "from_chain_id")):
        column, other_column = getattr(ChainMapping, end), getattr(ChainMapping, other)
        existing = set(session.scalars(select(other_column).where(column == target_id)))
        for mapping in session.scalars(select(ChainMapping).where(column == source_id)):
            if getattr(mapping, other) in existing or getattr(mapping, other) == target_id:
                session.delete(mapping)
            else:
                setattr(mapping, end, target_id)
                existing.add(getattr(mapping, other))
    session.flush()


def _unique(names: list[str], exclude: str) -> list[str]:
    out: list[str] = []
    for name in names:
        if name and name != exclude and name not in out:
            out.append(name)
    return out


def _audit(
    session: Session,
    actor_id: int | None,
    chain: IndustrialChain,
    action: str,
    changes: dict[str, Any],
) -> None:
    record(
        session,
        user_id=actor_id,
        entity_type=CHAIN_AUDIT_ENTITY,
        entity_id=chain.id,
        action=action,
        changes=changes,
    )
