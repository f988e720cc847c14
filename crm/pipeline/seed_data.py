"""`crm seed`: store the sample Top-500 lists of seed/top500/ (matches are not confirmed).

Files are named `<list>-<year>.csv` (e.g. `fortune_global_500-2022.csv`). Loading is
idempotent: a list whose entries did not change is left alone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from crm.pipeline.top500 import NotASpreadsheetError
from crm.pipeline.top500_services import LIST_CODES, Top500Error, parse_list_file, store_list

_FILE_NAME = re.compile(r"(?P<code>[a-z0-9_]+)-(?P<year>\d{4})\.(csv|xlsx)")


def load(session: Session, seed_dir: Path, report: Any) -> None:
    from crm.reference.seed import SeedError

    folder = Path(seed_dir) / "top500"
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        match = _FILE_NAME.fullmatch(path.name)
        if match is None:
            continue
        code, year = match["code"], int(match["year"])
        if code not in LIST_CODES:
            raise SeedError(f"top500/{path.name}: unknown list {code!r} (one of {LIST_CODES})")
        try:
            parsed, _ranks_ignored = parse_list_file(path.read_bytes(), path.name)
        except NotASpreadsheetError as exc:
            raise SeedError(f"top500/{path.name}: {exc}") from exc
        if parsed.errors:
            first = parsed.errors[0]
            raise SeedError(f"top500/{path.name}: row {first.row}, {first.column}: {first.message}")
        existed = _exists(session, code, year)
        try:
            _lst, changed = store_list(
                session,
                list_code=code,
                year=year,
                parsed=parsed,
                source_name=f"seed/top500/{path.name}",
                actor_id=None,
            )
        except Top500Error as exc:
            raise SeedError(f"top500/{path.name}: {exc}") from exc
        if changed:
            report.count("top500 lists", created=not existed)


def _exists(session: Session, code: str, year: int) -> bool:
    from sqlalchemy import select

    from crm.pipeline.top500_models import Top500List

    return (
        session.scalar(
            select(Top500List.id).where(Top500List.list_code == code, Top500List.year == year)
        )
        is not None
    )
