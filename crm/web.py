"""Small helpers for reading request arguments safely in views."""

from __future__ import annotations

from flask import request

MAX_PAGE = 1_000_000
MAX_ID = 2**63 - 1  # larger ids cannot exist and overflow the database's integer types


def page_number(name: str = "page") -> int:
    """The page asked for, between 1 and MAX_PAGE (bad or huge values give page 1 or the max)."""
    value = request.args.get(name, 1, type=int) or 1
    return min(max(1, value), MAX_PAGE)
