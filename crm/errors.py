"""Error pages for the web UI and problem documents for the API.

A database that is down answers 503 with a retry hint, never a 500 with a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from crm.extensions import db, login_manager

log = logging.getLogger(__name__)


def _wants_problem() -> bool:
    return request.path.startswith("/api/")


def _render(status: int, retry_after: int | None = None, detail: str | None = None) -> Any:
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    if _wants_problem():
        from crm.api.framework import problem

        return problem(status, detail, headers=headers)
    body = render_template(
        "errors/error.html", status=status, detail=detail, retry_after=retry_after
    )
    return body, status, headers


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        return _render(400, detail=exc.description)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        retry = None
        if exc.code == 429 and exc.response is None:
            retry = getattr(exc, "retry_after", None)
        if exc.response is not None:
            return exc.response
        # A reason given with abort(400, description=...) is shown; Werkzeug's default isn't.
        detail = exc.description if exc.description != type(exc).description else None
        return _render(exc.code or 500, retry_after=retry, detail=detail)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def _database_down(exc: Exception) -> Any:
        log.warning("database unavailable: %s", exc)
        try:
            db.session.rollback()
        except Exception:
            log.debug("rollback failed", exc_info=True)
        # Render the page as for an anonymous visitor: loading the user (or refreshing it
        # after the rollback) would ask the database again and fail inside this handler.
        g._login_user = login_manager.anonymous_user()
        return _render(503, retry_after=5)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        if app.testing:
            raise exc  # let tests see the real error
        log.exception("unhandled error")
        try:
            db.session.rollback()
        except Exception:
            log.debug("rollback failed", exc_info=True)
        return _render(500)
