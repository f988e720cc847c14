"""The JSON API under /api/v1: thin endpoints over the features' services.

Conventions every endpoint follows (see docs/api.md): Bearer tokens, the same role and team
scoping as the web UI, RFC 9457 problem+json errors with field errors, list envelopes
`{"items", "total", "page", "per_page"}`, and an OpenAPI 3.1 document built from the routes'
pydantic models at /api/v1/openapi.json.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def load_endpoints() -> None:
    """Import the core endpoint modules (features' `api` modules are found by the factory)."""
    from crm.api import core, openapi  # noqa: F401
