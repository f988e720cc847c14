"""Archived weekly reports: each kept as a file with a database row holding its checksum.

Files live under the reports directory (`CRM_REPORTS_DIR`, default `<CRM_UPLOAD_DIR>/reports`)
as `weekly/<week>/<scope>-<lang>-<id>.xlsx`; a download serves those exact bytes after
checking their SHA-256 against the row, so an archived report is handed out unchanged or
not at all.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import false, func, select, true
from sqlalchemy.orm import Session

from crm.accounts.models import Team, User
from crm.enums import Role
from crm.reports.models import ReportArchive
from crm.reports.scope import ReportScope
from crm.reports.weekly import write_weekly
from crm.reports.weeks import Week


class ArchiveError(LookupError):
    """The archived file is missing or no longer matches its checksum."""


def reports_dir(config: Any) -> Path:
    configured = config.get("CRM_REPORTS_DIR")
    return Path(configured or Path(config["CRM_UPLOAD_DIR"]) / "reports")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find(session: Session, week: Week, scope: ReportScope, lang: str) -> ReportArchive | None:
    """The archived report of `week` for `scope` in `lang`, if one was kept."""
    team = (
        ReportArchive.team_id.is_(None)
        if scope.team_id is None
        else (ReportArchive.team_id == scope.team_id)
    )
    return session.scalar(
        select(ReportArchive)
        .where(ReportArchive.week == week.label, team, ReportArchive.language == lang)
        .order_by(ReportArchive.id.desc())
        .limit(1)
    )


def archive_weekly(
    session: Session,
    scope: ReportScope,
    week: Week,
    directory: Path,
    *,
    lang: str = "zh",
    source: str,
    user_id: int | None = None,
    as_of: date | None = None,
) -> ReportArchive:
    """Generate the weekly report, keep the file and add its row (flushes; caller commits)."""
    folder = directory / "weekly" / week.label
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".report-", suffix=".xlsx", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write_weekly(session, scope, week, tmp, lang=lang, as_of=as_of)
        row = ReportArchive(
            week=week.label,
            week_start=week.start,
            team_id=scope.team_id,
            language=lang,
            path="",
            size=tmp.stat().st_size,
            sha256=sha256_of(tmp),
            source=source,
            created_by_id=user_id,
        )
        session.add(row)
        session.flush()
        relative = Path("weekly") / week.label / f"{scope.key}-{lang}-{row.id}.xlsx"
        tmp.replace(directory / relative)
        row.path = relative.as_posix()
        session.flush()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return row


def archived_file(row: ReportArchive, directory: Path) -> Path:
    """The file of an archived report, after checking it is the one that was archived."""
    path = (directory / row.path).resolve()
    if directory.resolve() not in path.parents or not path.is_file():
        raise ArchiveError("The archived file is missing.")
    if path.stat().st_size != row.size or sha256_of(path) != row.sha256:
        raise ArchiveError("The archived file has changed since it was archived.")
    return path


def visible_archives_clause(user: User) -> Any:
    """Leaders and admins see every archived report; a lead sees their team's."""
    if user.role in (Role.ADMIN, Role.LEADER):
        return true()
    if user.role != Role.LEAD or user.team_id is None:
        return false()
    return ReportArchive.team_id == user.team_id


@dataclass(frozen=True)
class ArchiveLine:
    row: ReportArchive
    team_code: str | None
    team_zh: str | None
    team_en: str | None


def list_archives(
    session: Session, user: User, *, page: int, per_page: int
) -> tuple[list[ArchiveLine], int]:
    where = visible_archives_clause(user)
    total = session.scalar(select(func.count()).select_from(ReportArchive).where(where)) or 0
    rows = session.execute(
        select(ReportArchive, Team.code, Team.name_zh, Team.name_en)
        .outerjoin(Team, Team.id == ReportArchive.team_id)
        .where(where)
        .order_by(ReportArchive.week_start.desc(), ReportArchive.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return [ArchiveLine(*r) for r in rows], total


def get_visible(session: Session, user: User, archive_id: int) -> ReportArchive | None:
    return session.scalar(
        select(ReportArchive).where(ReportArchive.id == archive_id, visible_archives_clause(user))
    )
