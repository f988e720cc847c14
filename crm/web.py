"""Small helpers for reading request arguments safely in views."""

from __future__ import annotations

from typing import IO, Any

from flask import Request, request

MAX_PAGE = 1_000_000
# Ids are INTEGER columns, 32 bits on PostgreSQL: a larger id cannot exist, and PostgreSQL
# would answer a lookup with it with an error ("integer out of range"), not a miss.
MAX_ID = 2**31 - 1
NUL = "\x00"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class UploadClosingRequest(Request):
    """A request that closes every file its form parser opened, when it is closed (at the
    end of the request), even a part the parser gave up on: an upload cut off by the size
    limit is a spooled temporary file Werkzeug never hands out, so nothing else closes it."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        stream = super()._get_file_stream(
            total_content_length, content_type, filename, content_length
        )
        self.__dict__.setdefault("_opened_files", []).append(stream)
        return stream

    def close(self) -> None:
        super().close()
        for stream in self.__dict__.pop("_opened_files", []):
            stream.close()


def page_number(name: str = "page") -> int:
    """The page asked for, between 1 and MAX_PAGE (bad or huge values give page 1 or the max)."""
    value = request.args.get(name, 1, type=int) or 1
    return min(max(1, value), MAX_PAGE)


def _nul_in_json(value: Any, path: str) -> list[str]:
    """The paths of the strings (and keys) in a JSON value that hold a NUL character."""
    if isinstance(value, str):
        return [path or "body"] if NUL in value else []
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    found = []
    for key, item in items:
        key_path = f"{path}.{key}" if path else str(key)
        found += [key_path] if NUL in str(key) else _nul_in_json(item, key_path)
    return found


def path_has_nul() -> bool:
    """Whether a segment of the matched path holds a NUL character (no record's key does)."""
    return any(isinstance(v, str) and NUL in v for v in (request.view_args or {}).values())


def fields_with_nul() -> list[str]:
    """The names of the request's inputs holding a NUL character (U+0000): in the query
    string, a form (and its file names) or a JSON body. Empty when clean.

    PostgreSQL text cannot hold NUL, so such input must be refused before any query sees it.
    """
    pairs: list[tuple[str, Any]] = list(request.args.items(multi=True))
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.mimetype in FORM_TYPES:
            pairs += list(request.form.items(multi=True))
            pairs += [(name, f.filename) for name, f in request.files.items(multi=True)]
        elif request.is_json:
            return _nul_in_json(request.get_json(silent=True), "")
    return [
        name.replace(NUL, "\\0")
        for name, value in pairs
        if NUL in name or (isinstance(value, str) and NUL in value)
    ]
