"""Top-500 lists: store an imported list, propose company matches, confirm them, and keep
the key-project flags of the affected projects right.

Parsing and name matching are in `crm.pipeline.top500` (no database); the key-project rule
is `crm.pipeline.keys.key_reasons`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from crm.audit import AuditLog
from crm.enums import TOP500_LISTS
from crm.pipeline.keys import key_reasons, key_threshold
from crm.pipeline.models import Company, CompanyTop500, Project
from crm.pipeline.names import SEARCH_SEPARATOR, normalize_company_name
from crm.pipeline.top500 import Match, Top500Entry, Top500Parse, parse_top500, propose_matches
from crm.pipeline.top500_models import Top500List, Top500ListEntry

LIST_CODES: tuple[str, ...] = tuple(t.value for t in TOP500_LISTS)
CHUNK = 500


class Top500Error(ValueError):
    """A list cannot be stored; the message says why."""


_RANK_HEADERS = {"rank", "ranking", "排名", "名次"}


def parse_list_file(data: bytes, filename: str | None) -> tuple[Top500Parse, bool]:
    """Parse an uploaded or seed list; a csv whose rank column is empty in every row (the
    samples in seed/top500 leave ranks out) is read as having no ranks. Returns the parse
    and whether the empty rank column was ignored. Raises NotASpreadsheetError."""
    parsed = parse_top500(data, filename)
    missing = [e for e in parsed.errors if e.message == "rank is missing"]
    if parsed.entries or not missing or len(missing) != len(parsed.errors):
        return parsed, False
    stripped = _without_rank_header(data)
    if stripped is None:
        return parsed, False
    return parse_top500(stripped, filename), True


def _without_rank_header(data: bytes) -> bytes | None:
    """The csv text with its rank header cell renamed, so the parser ignores the column."""
    import csv
    import io

    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    for row in rows[:10]:
        for index, cell in enumerate(row):
            if cell.strip().casefold() in _RANK_HEADERS:
                row[index] = "-"
                out = io.StringIO()
                csv.writer(out, lineterminator="\n").writerows(rows)
                return out.getvalue().encode("utf-8")
    return None


def store_list(
    session: Session,
    *,
    list_code: str,
    year: int,
    parsed: Top500Parse,
    source_name: str | None,
    actor_id: int | None,
) -> tuple[Top500List, bool]:
    """Store (or replace) the entries of one list edition. Returns the list and whether
    anything changed: storing the same entries again changes nothing. Confirmed matches
    (company tags) are kept."""
    if list_code not in LIST_CODES:
        raise Top500Error(f"Unknown list: {list_code}")
    if not 1900 <= year <= 2200:
        raise Top500Error(f"Not a plausible year: {year}")
    if not parsed.entries:
        raise Top500Error("The file has no usable rows.")
    lst = session.scalar(
        select(Top500List).where(Top500List.list_code == list_code, Top500List.year == year)
    )
    wanted = [(e.row, e.rank, e.name, e.name_en, list(e.aliases)) for e in parsed.entries]
    if lst is not None:
        current = [
            (e.row, e.rank, e.name, e.name_en, list(e.aliases or []))
            for e in session.scalars(
                select(Top500ListEntry)
                .where(Top500ListEntry.list_id == lst.id)
                .order_by(Top500ListEntry.row, Top500ListEntry.id)
            )
        ]
        if current == wanted:
            return lst, False
        session.execute(delete(Top500ListEntry).where(Top500ListEntry.list_id == lst.id))
    else:
        lst = Top500List(list_code=list_code, year=year)
        session.add(lst)
        session.flush()
    lst.source_name = source_name
    lst.entry_count = len(wanted)
    lst.uploaded_by_id = actor_id
    session.add_all(
        Top500ListEntry(list_id=lst.id, row=row, rank=rank, name=name, name_en=en, aliases=aliases)
        for row, rank, name, en, aliases in wanted
    )
    session.flush()
    return lst, True


def list_entries(session: Session, lst: Top500List) -> dict[int, Top500Entry]:
    """The stored entries of a list as the matcher's entries, by entry id."""
    return {
        e.id: Top500Entry(
            row=e.row, rank=e.rank, name=e.name, name_en=e.name_en, aliases=tuple(e.aliases or [])
        )
        for e in session.scalars(
            select(Top500ListEntry)
            .where(Top500ListEntry.list_id == lst.id)
            .order_by(Top500ListEntry.row, Top500ListEntry.id)
        )
    }


@dataclass(frozen=True)
class ProposedMatch:
    entry_id: int
    company_id: int
    company_name: str
    match: Match
    confirmed: bool

    @property
    def key(self) -> str:
        """The checkbox value: company and entry."""
        return f"{self.company_id}:{self.entry_id}"


def proposed_matches(session: Session, lst: Top500List) -> list[ProposedMatch]:
    """Companies whose names match the list's entries, each marked confirmed or not.

    Companies are narrowed in Python by the normalised keys kept in their search blobs
    (one pass over id, names and blob), then matched with `propose_matches`.
    """
    entries = list_entries(session, lst)
    entry_ids = {entry: eid for eid, entry in entries.items()}
    keys = {
        key
        for entry in entries.values()
        for _f, text in entry.names()
        if (key := normalize_company_name(text))
    }
    candidates = []
    for cid, name, aliases, name_en, normalized, blob in session.execute(
        select(
            Company.id,
            Company.name,
            Company.aliases,
            Company.name_en,
            Company.normalized_name,
            Company.search_blob,
        ).where(Company.merged_into_id.is_(None), Company.deleted_at.is_(None))
    ):
        if normalized in keys or keys.intersection((blob or "").split(SEARCH_SEPARATOR)):
            candidates.append((cid, name, aliases, name_en))
    names = {cid: name for cid, name, _a, _e in candidates}
    confirmed = {
        cid
        for (cid,) in session.execute(
            select(CompanyTop500.company_id).where(
                CompanyTop500.list_code == lst.list_code,
                CompanyTop500.year == lst.year,
                CompanyTop500.company_id.in_(list(names) or [0]),
            )
        )
    }
    return [
        ProposedMatch(
            entry_ids[m.entry], m.company_id, names[m.company_id], m, m.company_id in confirmed
        )
        for m in propose_matches(candidates, entries.values())
    ]


def confirm_matches(
    session: Session,
    lst: Top500List,
    *,
    chosen: Iterable[tuple[int, int]],
    shown: Iterable[tuple[int, int]],
    actor_id: int | None,
    today: date,
) -> tuple[int, int, int]:
    """Tag the chosen companies as on this list edition (with the entry's rank), untag the
    companies shown but not chosen, then recompute the key flags of their projects.

    `chosen` and `shown` are (company id, entry id) pairs; pairs not proposed for this list
    are ignored. Returns (tags added, tags removed, projects whose key flag changed).
    """
    proposals = {(p.company_id, p.entry_id): p for p in proposed_matches(session, lst)}
    chosen = {pair for pair in chosen if pair in proposals}
    shown = {pair for pair in shown if pair in proposals}
    rank_of = {pair: proposals[pair].match.entry.rank for pair in chosen}
    existing = {
        tag.company_id: tag
        for tag in session.scalars(
            select(CompanyTop500).where(
                CompanyTop500.list_code == lst.list_code, CompanyTop500.year == lst.year
            )
        )
    }
    chosen_companies = {cid for cid, _e in chosen}
    added = removed = 0
    audit: list[dict[str, object]] = []
    for (cid, _eid), rank in sorted(rank_of.items()):
        tag = existing.get(cid)
        if tag is None:
            tag = CompanyTop500(
                company_id=cid,
                list_code=lst.list_code,
                year=lst.year,
                rank=rank,
                confirmed_by_id=actor_id,
            )
            session.add(tag)
            existing[cid] = tag
            added += 1
            audit.append(_audit(actor_id, cid, "top500_tag", lst, rank))
        elif tag.rank != rank and rank is not None:
            tag.rank = rank
    for cid, _eid in sorted(shown):
        if cid not in chosen_companies and cid in existing:
            session.delete(existing.pop(cid))
            removed += 1
            audit.append(_audit(actor_id, cid, "top500_untag", lst, None))
    if audit:
        session.add_all(AuditLog(**row) for row in audit)
    session.flush()
    affected = {cid for cid, _e in shown} | chosen_companies
    changed = refresh_key_flags(session, sorted(affected), actor_id=actor_id, today=today)
    return added, removed, changed


def _audit(
    actor_id: int | None, company_id: int, action: str, lst: Top500List, rank: int | None
) -> dict[str, object]:
    return {
        "user_id": actor_id,
        "entity_type": "company",
        "entity_id": company_id,
        "action": action,
        "changes": {"list": lst.list_code, "year": lst.year, "rank": rank},
    }


def refresh_key_flags(
    session: Session,
    company_ids: Iterable[int],
    *,
    actor_id: int | None = None,
    today: date | None = None,
) -> int:
    """Recompute `is_key` / `key_reasons` of every (non-deleted) project of these companies
    with `crm.pipeline.keys.key_reasons`; write and audit only the projects that changed.
    Returns how many changed.

    Set-based: per chunk of 500 companies one read of the projects, one of the Top-500 tags,
    one bulk UPDATE and one bulk audit INSERT, whatever the number of projects. The update
    is derived data: it changes neither `updated_at` nor the project's `version`.
    """
    from crm.pipeline.listing import local_today

    today = today or local_today()
    threshold = key_threshold(session)
    ids = sorted(set(company_ids))
    changed = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        tags: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for cid, code, year in session.execute(
            select(CompanyTop500.company_id, CompanyTop500.list_code, CompanyTop500.year).where(
                CompanyTop500.company_id.in_(chunk)
            )
        ):
            tags[cid].append((code, year))
        updates = []
        audit = []
        for pid, cid, amount, manual, manual_reason, is_key, old in session.execute(
            select(
                Project.id,
                Project.company_id,
                Project.planned_investment,
                Project.key_manual,
                Project.key_manual_reason,
                Project.is_key,
                Project.key_reasons,
            ).where(Project.company_id.in_(chunk), Project.deleted_at.is_(None))
        ):
            reasons = key_reasons(
                planned_investment=amount,
                threshold=threshold,
                top500=tags.get(cid, []),
                current_year=today.year,
                manual=bool(manual),
                manual_reason=manual_reason,
            )
            if reasons != list(old or []) or bool(reasons) != is_key:
                updates.append({"b_id": pid, "b_key": bool(reasons), "b_reasons": reasons})
                audit.append(
                    {
                        "user_id": actor_id,
                        "entity_type": "project",
                        "entity_id": pid,
                        "action": "key_flags",
                        "changes": {
                            "is_key": [is_key, bool(reasons)],
                            "key_reasons": [list(old or []), reasons],
                        },
                    }
                )
        if updates:
            table = Project.__table__
            session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(
                    is_key=bindparam("b_key"),
                    key_reasons=bindparam("b_reasons"),
                    updated_at=table.c.updated_at,
                ),
                updates,
            )
            session.add_all(AuditLog(**row) for row in audit)
            changed += len(updates)
            done = {row["b_id"] for row in updates}
            for obj in list(session.identity_map.values()):
                if isinstance(obj, Project) and obj.id in done:
                    session.expire(obj, ["is_key", "key_reasons"])
    session.flush()
    return changed
