"""Sample data for the visits tests: plain functions that add rows and flush."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from typing import Any

from crm.accounts.models import Team, User
from crm.enums import Role
from crm.extensions import db
from crm.visits import services
from crm.visits.leads import local_today
from crm.visits.web import now_utc
from tests import factories


def team_with_people(code: str | None = None) -> tuple[Team, User, User]:
    """A team with an officer and its lead."""
    team = factories.team(code)
    return team, factories.user(Role.OFFICER, team), factories.user(Role.LEAD, team)


def log_visit(author: User, *, on: date | None = None, **kw: Any) -> services.VisitResult:
    data = services.VisitInput(
        on=on or local_today() - timedelta(days=1), type="company_visit", **kw
    )
    return services.create_visit(db.session, author, data, now=now_utc(), today=local_today())


def ooxml(folder: str) -> bytes:
    """A minimal Office Open XML package with its content types and one part in `folder`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{folder}document.xml", "<doc/>")
    return buffer.getvalue()


PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64
LINUX_ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64
