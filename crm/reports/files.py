"""Sending files without holding them in memory or leaving handles open.

The file is opened only when the server starts sending the body and closed (and, for a
temporary file, deleted) when sending ends or is abandoned.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from flask import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 1 << 16
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def temporary_path(suffix: str = ".xlsx") -> Path:
    """A new empty temporary file's path (closed), for a workbook to be written to."""
    fd, name = tempfile.mkstemp(prefix="crm-", suffix=suffix)
    os.close(fd)
    return Path(name)


def _chunks(path: Path, delete: bool) -> Iterator[bytes]:
    try:
        with path.open("rb") as handle:
            while block := handle.read(CHUNK):
                yield block
    finally:
        if delete:
            path.unlink(missing_ok=True)


def file_response(
    path: Path,
    download_name: str,
    *,
    mimetype: str = XLSX,
    delete: bool = False,
    etag: str | None = None,
) -> Response:
    """An attachment response streaming `path` (deleted afterwards when `delete`)."""
    response = Response(_chunks(path, delete), mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Length"] = str(path.stat().st_size)
    download_name = _CONTROL.sub("", download_name)
    ascii_name = download_name.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{ascii_name or "download"}"; '
        f"filename*=UTF-8''{quote(download_name)}"
    )
    response.headers["Cache-Control"] = "no-store"
    if etag:
        response.set_etag(etag)
    return response
