"""Attachments: checking what is uploaded, storing it safely, and soft deletion.

Allowed: PDF; PNG, JPEG, GIF and WebP images; Office documents (docx, xlsx, pptx and the
legacy doc, xls, ppt). The extension decides the type, and the first bytes must agree
with it: `%PDF-`; the PNG, JPEG, GIF and RIFF/WEBP signatures; for OOXML a ZIP archive
holding `[Content_Types].xml` and the part folder of its kind (`word/`, `xl/`, `ppt/`); for
the legacy formats the OLE2 compound-file signature (the OLE2 container is not opened,
so a .doc and an .xls are not told apart). Executables (MZ, ELF, Mach-O) are refused
whatever their name. Anything refused leaves nothing behind.

Files are written under CRM_UPLOAD_DIR (outside the web root) with a random name, first to
a temporary file in the same folder then renamed, so a file is never seen half-written.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import secrets
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import User
from crm.visits.event_models import Attachment

PARENTS = ("project", "visit", "event")


class UploadError(ValueError):
    """A refused upload; the message is for the user. `status` suits an HTTP answer."""

    def __init__(self, message: object, status: int = 422) -> None:
        super().__init__(str(message))
        self.status = status


def _is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-")


def _is_png(data: bytes) -> bool:
    return data.startswith(b"\x89PNG\r\n\x1a\n")


def _is_jpeg(data: bytes) -> bool:
    return data.startswith(b"\xff\xd8\xff")


def _is_gif(data: bytes) -> bool:
    return data[:6] in (b"GIF87a", b"GIF89a")


def _is_webp(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def _is_ole2(data: bytes) -> bool:
    return data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def _ooxml(folder: str) -> Callable[[bytes], bool]:
    def check(data: bytes) -> bool:
        if not data.startswith(b"PK\x03\x04"):
            return False
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, ValueError, OSError):
            return False
        return "[Content_Types].xml" in names and any(n.startswith(folder) for n in names)

    return check


@dataclass(frozen=True)
class FileKind:
    content_type: str
    check: Callable[[bytes], bool]


KINDS: dict[str, FileKind] = {
    "pdf": FileKind("application/pdf", _is_pdf),
    "png": FileKind("image/png", _is_png),
    "jpg": FileKind("image/jpeg", _is_jpeg),
    "jpeg": FileKind("image/jpeg", _is_jpeg),
    "gif": FileKind("image/gif", _is_gif),
    "webp": FileKind("image/webp", _is_webp),
    "docx": FileKind(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ooxml("word/"),
    ),
    "xlsx": FileKind(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ooxml("xl/")
    ),
    "pptx": FileKind(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ooxml("ppt/"),
    ),
    "doc": FileKind("application/msword", _is_ole2),
    "xls": FileKind("application/vnd.ms-excel", _is_ole2),
    "ppt": FileKind("application/vnd.ms-powerpoint", _is_ole2),
}
ALLOWED_EXTENSIONS = tuple(KINDS)
_EXECUTABLE_SIGNATURES = (
    b"MZ",  # Windows PE
    b"\x7fELF",  # Linux
    b"\xcf\xfa\xed\xfe",  # Mach-O 64
    b"\xce\xfa\xed\xfe",  # Mach-O 32
    b"\xca\xfe\xba\xbe",  # Mach-O universal / Java class
    b"#!",  # scripts
)


def clean_filename(name: str | None) -> str:
    """A display name safe in a header and on any disk: no folders, controls or quotes."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = re.sub(r'["<>:|?*;]', "_", base).strip(" .")
    if len(base) > 200:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else base[:200]
    return base or "file"


def extension(name: str) -> str:
    _, dot, ext = name.rpartition(".")
    return ext.lower() if dot else ""


def check_upload(filename: str | None, data: bytes, max_bytes: int) -> tuple[str, FileKind]:
    """The cleaned name and its kind; UploadError with a clear message when refused."""
    name = clean_filename(filename)
    if not filename or not data:
        raise UploadError(_l("The file is empty: choose a file to upload."))
    if len(data) > max_bytes:
        raise UploadError(
            _l(
                "The file is too large: at most %(mb)d MB is allowed.",
                mb=max_bytes // (1024 * 1024),
            ),
            413,
        )
    ext = extension(name)
    if data.startswith(_EXECUTABLE_SIGNATURES):
        raise UploadError(
            _l("This file is a program or script, whatever its name says; it is refused.")
        )
    kind = KINDS.get(ext)
    if kind is None:
        raise UploadError(
            _l(
                "Files of type “%(ext)s” are not accepted. Allowed: PDF, images (PNG, JPEG, "
                "GIF, WebP) and Office documents (Word, Excel, PowerPoint).",
                ext=ext or "?",
            )
        )
    if not kind.check(data):
        raise UploadError(
            _l(
                "The file's content does not match its extension .%(ext)s: it was refused. "
                "Save it again in the right format, or give it its real extension.",
                ext=ext,
            )
        )
    return name, kind


def _write_atomically(folder: Path, stored_name: str, data: bytes) -> Path:
    """Write `data` to folder/stored_name via a temporary file and a rename."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = _mkstemp(folder)
    except OSError as exc:
        raise _storage_error(exc) from exc
    target = folder / stored_name
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _storage_error(exc) from exc
    return target


def _mkstemp(folder: Path) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=folder)


def _storage_error(exc: OSError) -> UploadError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UploadError(_l("The server's disk is full: the file was not stored."), 507)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UploadError(
            _l(
                "The upload folder is not writable: the file was not stored. Tell an administrator."
            ),
            503,
        )
    return UploadError(_l("The file could not be stored (%(error)s).", error=exc.strerror), 503)


def stored_path(upload_dir: str | Path, attachment: Attachment) -> Path:
    return Path(upload_dir) / attachment.stored_name[:2] / attachment.stored_name


def store_attachment(
    session: Session,
    *,
    upload_dir: str | Path,
    max_bytes: int,
    user: User,
    parent: str,
    parent_id: int,
    filename: str | None,
    data: bytes,
) -> Attachment:
    """Check and store a file for a parent the caller has checked the user may change.

    Raises UploadError before anything is written. If recording the row fails the file is
    removed; if the caller's commit fails it must call `discard_file`.
    """
    if parent not in PARENTS:
        raise UploadError(_l("Attach files to a project, a visit or an event."))
    name, kind = check_upload(filename, data, max_bytes)
    stored_name = secrets.token_hex(20)
    path = _write_atomically(Path(upload_dir) / stored_name[:2], stored_name, data)
    try:
        attachment = Attachment(
            filename=name,
            stored_name=stored_name,
            content_type=kind.content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            team_id=user.team_id,
            uploaded_by_id=user.id,
            **{f"{parent}_id": parent_id},
        )
        session.add(attachment)
        session.flush()
        audit.record(
            session,
            user_id=user.id,
            entity_type="attachment",
            entity_id=attachment.id,
            action="upload",
            changes={
                "parent": [None, f"{parent}:{parent_id}"],
                "filename": [None, name],
                "size": [None, len(data)],
            },
        )
        session.flush()
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return attachment


def discard_file(upload_dir: str | Path, attachment: Attachment) -> None:
    """Remove a stored file whose row was not committed."""
    stored_path(upload_dir, attachment).unlink(missing_ok=True)


def delete_attachment(
    session: Session, attachment: Attachment, *, user_id: int, now: datetime
) -> None:
    """Soft delete with history: the row and the file stay, hidden from lists and downloads."""
    attachment.deleted_at = now
    attachment.deleted_by_id = user_id
    audit.record(
        session,
        user_id=user_id,
        entity_type="attachment",
        entity_id=attachment.id,
        action="delete",
        changes={"filename": [attachment.filename, None]},
    )
    session.flush()


def attachments_of(session: Session, parent: str, parent_id: int) -> list[Attachment]:
    column = getattr(Attachment, f"{parent}_id")
    return list(
        session.scalars(
            select(Attachment)
            .where(column == parent_id, Attachment.deleted_at.is_(None))
            .order_by(Attachment.uploaded_at.desc(), Attachment.id.desc())
        )
    )
