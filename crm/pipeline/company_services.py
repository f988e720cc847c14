"""Companies: create, edit, duplicate warnings and merging two records of one company.

Companies are not confidential (any signed-in user reads them); their projects are.
Every change is audited. A company's search blob, and those of its projects, are refreshed
whenever one of its names changes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from crm.audit import record
from crm.db import utcnow
from crm.enums import TOP500_LISTS, InvestorTag, OwnershipType
from crm.extensions import db
from crm.pipeline.models import Company, CompanyTop500, Project
from crm.pipeline.names import normalize_company_name
from crm.pipeline.search import company_search_blob, refresh_search_blobs
from crm.reference.uscc import normalize_uscc, uscc_error

#: Investor tags kept on the company itself; Top-500 tags are per year (CompanyTop500).
COMPANY_TAGS: tuple[str, ...] = tuple(t.value for t in InvestorTag if t not in TOP500_LISTS)
MAX_ALIASES = 50
_ALIAS_SPLIT = re.compile(r"[\n\r|;；、]+")


class CompanyError(ValueError):
    """A company cannot be saved: `field` says which input is wrong."""

    def __init__(self, field: str, message: str, existing_id: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.existing_id = existing_id


@dataclass
class CompanyData:
    """What a person enters about a company."""

    name: str
    name_en: str | None = None
    aliases: list[str] = field(default_factory=list)
    uscc: str | None = None
    ownership_type: OwnershipType | None = None
    hq_city: str | None = None
    hq_province: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Duplicate:
    """An existing company that looks like the one being entered, and why."""

    company_id: int
    name: str
    reason: str  # "uscc", "name", "alias" or "name_en"
    text: str  # the existing company's text that matched


def split_aliases(text: str | None) -> list[str]:
    """Aliases typed one per line (or separated by | ; 、)."""
    return [part.strip() for part in _ALIAS_SPLIT.split(text or "") if part.strip()]


def clean_aliases(aliases: Iterable[str], name: str, name_en: str | None = None) -> list[str]:
    """Aliases without blanks, repeats (by normalised name) or the name itself."""
    seen = {normalize_company_name(name)}
    out = []
    for alias in aliases:
        alias = " ".join(alias.split())
        key = normalize_company_name(alias)
        if alias and key and key not in seen:
            seen.add(key)
            out.append(alias[:300])
    return out


def _unique_texts(texts: Iterable[str], *, exclude: Iterable[str] = ()) -> list[str]:
    """Texts without blanks and exact repeats (compared case- and width-insensitively)."""

    def key(text: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", text).casefold().split())

    seen = {key(t) for t in exclude}
    out = []
    for text in texts:
        text = " ".join((text or "").split())[:300]
        if text and key(text) not in seen:
            seen.add(key(text))
            out.append(text)
    return out


def _names(name: str, aliases: Iterable[str] | None, name_en: str | None) -> list[tuple[str, str]]:
    out = [("name", name)]
    out += [("alias", a) for a in aliases or () if a]
    if name_en:
        out.append(("name_en", name_en))
    return out


def find_duplicates(
    session: Session, data: CompanyData, *, exclude_id: int | None = None
) -> list[Duplicate]:
    """Existing companies (not merged away, not deleted) sharing the USCC, or whose name,
    an alias or English name normalises like one of `data`'s names. One query.

    Candidates are found in SQL (the normalised-name column, the USCC, and the normalised
    keys kept in each search blob) and confirmed by normalising their names here.
    """
    keys = {
        key
        for _f, text in _names(data.name, data.aliases, data.name_en)
        if (key := normalize_company_name(text))
    }
    uscc = normalize_uscc(data.uscc) if data.uscc else None
    if not keys and not uscc:
        return []
    conditions = []
    if keys:
        conditions.append(Company.normalized_name.in_(sorted(keys)))
        conditions += [Company.search_blob.like(f"%|{key}|%") for key in sorted(keys)]
    if uscc:
        conditions.append(Company.uscc == uscc)
    stmt = select(Company.id, Company.name, Company.aliases, Company.name_en, Company.uscc).where(
        or_(*conditions), Company.merged_into_id.is_(None), Company.deleted_at.is_(None)
    )
    if exclude_id is not None:
        stmt = stmt.where(Company.id != exclude_id)
    found: list[Duplicate] = []
    for cid, name, aliases, name_en, their_uscc in session.execute(stmt.order_by(Company.id)):
        if uscc and their_uscc == uscc:
            found.append(Duplicate(cid, name, "uscc", their_uscc))
            continue
        for reason, text in _names(name, aliases, name_en):
            if normalize_company_name(text) in keys:
                found.append(Duplicate(cid, name, reason, text))
                break
    return found


def _validated(session: Session, data: CompanyData, *, exclude_id: int | None) -> CompanyData:
    name = " ".join((data.name or "").split())
    if not name:
        raise CompanyError("name", _("A company needs a name."))
    if not normalize_company_name(name):
        raise CompanyError("name", _("The name has no letters or digits."))
    name_en = " ".join((data.name_en or "").split()) or None
    uscc = normalize_uscc(data.uscc) if data.uscc and data.uscc.strip() else None
    if uscc:
        problem = uscc_error(uscc)
        if problem:
            raise CompanyError(
                "uscc", _("Not a valid Unified Social Credit Code: %(problem)s.", problem=problem)
            )
        stmt = select(Company.id, Company.name).where(Company.uscc == uscc)
        if exclude_id is not None:
            stmt = stmt.where(Company.id != exclude_id)
        existing = session.execute(stmt).first()
        if existing:
            raise CompanyError(
                "uscc",
                _("This credit code already belongs to %(name)s.", name=existing[1]),
                existing_id=existing[0],
            )
    aliases = clean_aliases(data.aliases, name, name_en)
    if len(aliases) > MAX_ALIASES:
        raise CompanyError("aliases", _("At most %(n)d aliases.", n=MAX_ALIASES))
    unknown = [t for t in data.tags if t not in COMPANY_TAGS]
    if unknown:
        raise CompanyError("tags", _("Unknown investor tag: %(value)s", value=unknown[0]))
    return CompanyData(
        name=name[:300],
        name_en=name_en[:300] if name_en else None,
        aliases=aliases,
        uscc=uscc,
        ownership_type=data.ownership_type,
        hq_city=(data.hq_city or "").strip()[:100] or None,
        hq_province=(data.hq_province or "").strip()[:100] or None,
        tags=[t for t in COMPANY_TAGS if t in data.tags],
    )


_FIELDS = ("name", "name_en", "aliases", "uscc", "ownership_type", "hq_city", "hq_province", "tags")


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def create_company(session: Session, data: CompanyData, *, actor_id: int | None) -> Company:
    """Create a company. Raises CompanyError for a missing name, an invalid credit code or
    one already used (even by a merged company). Similar names are not refused: callers
    warn with `find_duplicates` first."""
    clean = _validated(session, data, exclude_id=None)
    company = Company(
        name=clean.name,
        name_en=clean.name_en,
        aliases=clean.aliases,
        normalized_name=normalize_company_name(clean.name),
        uscc=clean.uscc,
        ownership_type=clean.ownership_type,
        hq_city=clean.hq_city,
        hq_province=clean.hq_province,
        tags=clean.tags,
        search_blob=company_search_blob(clean.name, clean.aliases, clean.name_en),
    )
    session.add(company)
    session.flush()
    record(
        session,
        user_id=actor_id,
        entity_type="company",
        entity_id=company.id,
        action="create",
        changes={f: [None, _plain(getattr(clean, f))] for f in _FIELDS if getattr(clean, f)},
    )
    return company


def update_company(
    session: Session, company: Company, data: CompanyData, *, actor_id: int | None
) -> dict[str, list[Any]]:
    """Apply `data` to `company`; returns and audits the field-level changes."""
    clean = _validated(session, data, exclude_id=company.id)
    changes: dict[str, list[Any]] = {}
    for name in _FIELDS:
        before, after = getattr(company, name), getattr(clean, name)
        if _plain(before) != _plain(after) and not (before in (None, []) and after in (None, [])):
            changes[name] = [_plain(before), _plain(after)]
            setattr(company, name, after)
    if not changes:
        return changes
    company.normalized_name = normalize_company_name(company.name)
    company.search_blob = company_search_blob(company.name, company.aliases, company.name_en)
    session.flush()
    if {"name", "aliases", "name_en"} & changes.keys():
        refresh_search_blobs(session, company_ids=[company.id])
    record(
        session,
        user_id=actor_id,
        entity_type="company",
        entity_id=company.id,
        action="update",
        changes=changes,
    )
    return changes


# --- merging ---------------------------------------------------------------------------


@dataclass
class MergeSummary:
    source_id: int
    target_id: int
    moved: dict[str, int]  # "table.column" -> rows moved
    aliases_added: list[str]
    top500_moved: int


def company_references() -> list[tuple[Any, Any]]:
    """Every (table, column) holding a company id, except a company's own merged_into_id
    and the Top-500 tags (merged separately). Found from the metadata, so tables that later
    features add (visits, imports, ...) move along without changes here."""
    refs = []
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            for fk in column.foreign_keys:
                if fk.column.table.name == "company" and fk.column.name == "id":
                    if table.name in ("company", "company_top500"):
                        continue
                    refs.append((table, column))
    return refs


def merge_counts(session: Session, source_id: int) -> dict[str, int]:
    """How many rows of each kind point at the company (what a merge would move)."""
    counts = {}
    for table, column in company_references():
        n = session.scalar(select(func.count()).select_from(table).where(column == source_id))
        if n:
            counts[f"{table.name}.{column.name}"] = int(n)
    return counts


def merge_companies(
    session: Session, source: Company, target: Company, *, actor_id: int | None
) -> MergeSummary:
    """Merge `source` into `target`: every project, contact, visit (and any other row
    pointing at `source`) moves to `target`; the Top-500 tags, names, tags and missing facts
    are carried over; `source` stays as a record marked `merged_into_id = target`. Projects
    of the target get their search blobs and key flags recomputed. Both companies' audit
    logs record the merge.
    """
    if source.id == target.id:
        raise CompanyError("target", _("A company cannot be merged into itself."))
    if source.merged_into_id is not None:
        raise CompanyError("source", _("This company has already been merged into another one."))
    if target.merged_into_id is not None or target.deleted_at is not None:
        raise CompanyError("target", _("The company to keep has been merged or deleted."))
    moved: dict[str, int] = {}
    for table, column in company_references():
        values: dict[str, Any] = {column.name: target.id}
        if table.name == "project":
            # Someone editing one of these projects must reload before saving.
            values["version"] = table.c.version + 1
            values["updated_at"] = utcnow()
        result = session.execute(update(table).where(column == source.id).values(**values))
        if result.rowcount:
            moved[f"{table.name}.{column.name}"] = int(result.rowcount)
    _expire_moved(session, {name.split(".")[0] for name in moved})
    # Companies merged earlier into the source now point at the target.
    session.execute(
        update(Company).where(Company.merged_into_id == source.id).values(merged_into_id=target.id)
    )
    top500_moved = _merge_top500(session, source.id, target.id)
    aliases_before = list(target.aliases or [])
    names = [*aliases_before, source.name, *(source.aliases or [])]
    if source.name_en and target.name_en and source.name_en != target.name_en:
        names.append(source.name_en)
    # Kept word for word (not deduplicated by normalised name): the merged record's full
    # names stay on file as the target's former names.
    target.aliases = _unique_texts(names, exclude=[target.name])[:MAX_ALIASES]
    target.name_en = target.name_en or source.name_en
    target.tags = [t for t in COMPANY_TAGS if t in set(target.tags or []) | set(source.tags or [])]
    for attr in ("ownership_type", "hq_city", "hq_province"):
        if getattr(target, attr) is None:
            setattr(target, attr, getattr(source, attr))
    if target.uscc is None and source.uscc is not None:
        uscc, source.uscc = source.uscc, None
        session.flush()  # free the unique credit code before the target takes it
        target.uscc = uscc
    source.merged_into_id = target.id
    target.search_blob = company_search_blob(target.name, target.aliases, target.name_en)
    session.flush()
    refresh_search_blobs(session, company_ids=[target.id])
    from crm.pipeline.top500_services import refresh_key_flags

    refresh_key_flags(session, [target.id], actor_id=actor_id)
    added = [a for a in target.aliases if a not in aliases_before]
    details = {"source": source.id, "target": target.id, "moved": moved, "top500": top500_moved}
    record(
        session,
        user_id=actor_id,
        entity_type="company",
        entity_id=target.id,
        action="merge",
        changes={**details, "source_name": source.name, "aliases_added": added},
    )
    record(
        session,
        user_id=actor_id,
        entity_type="company",
        entity_id=source.id,
        action="merged_into",
        changes={**details, "target_name": target.name},
    )
    return MergeSummary(source.id, target.id, moved, added, top500_moved)


def _expire_moved(session: Session, tables: set[str]) -> None:
    """Objects already loaded from tables whose rows moved are read again when next used."""
    for obj in list(session.identity_map.values()):
        table = getattr(type(obj), "__table__", None)
        if table is not None and table.name in tables:
            session.expire(obj)


def _merge_top500(session: Session, source_id: int, target_id: int) -> int:
    """Move the source's Top-500 tags the target lacks; drop the ones it already has."""
    have = set(
        session.execute(
            select(CompanyTop500.list_code, CompanyTop500.year).where(
                CompanyTop500.company_id == target_id
            )
        ).all()
    )
    rows = session.execute(
        select(CompanyTop500.id, CompanyTop500.list_code, CompanyTop500.year).where(
            CompanyTop500.company_id == source_id
        )
    ).all()
    move = [rid for rid, code, year in rows if (code, year) not in have]
    drop = [rid for rid, code, year in rows if (code, year) in have]
    if move:
        session.execute(
            update(CompanyTop500).where(CompanyTop500.id.in_(move)).values(company_id=target_id)
        )
    if drop:
        session.execute(delete(CompanyTop500).where(CompanyTop500.id.in_(drop)))
    return len(move)


def company_projects_count(session: Session, company_ids: Sequence[int]) -> dict[int, int]:
    """Projects (not deleted) per company, for all teams (used by admins' merge page)."""
    if not company_ids:
        return {}
    rows = session.execute(
        select(Project.company_id, func.count())
        .where(Project.company_id.in_(company_ids), Project.deleted_at.is_(None))
        .group_by(Project.company_id)
    ).all()
    return {cid: int(n) for cid, n in rows}
