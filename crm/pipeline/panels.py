"""Panels on the project and company pages contributed by other features (visits, ...).

A feature appends a `Panel` to a page's registry; the page renders each visible panel's
template with the context its `load` function returns, and its `header` template (if any)
next to the record's name, with the same context (e.g. the stalled badge). `load` gets the
session, the user and the page's record (the project, the company) and must use a bounded
number of queries (the page's query count must not grow with data). The pipeline never
imports the features that fill its pages: they register here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    load: Callable[[Any, Any, Any], dict[str, Any] | None]  # None hides the panel
    order: int = 100
    header: str | None = None  # a small template shown by the title (badges)


PROJECT_PANELS: list[Panel] = []
COMPANY_PANELS: list[Panel] = []


def register(panel: Panel, registry: list[Panel] = PROJECT_PANELS) -> None:
    """Add `panel` to a page's registry (the project page's by default), once."""
    if all(existing.key != panel.key for existing in registry):
        registry.append(panel)
        registry.sort(key=lambda p: p.order)


def register_company_panel(panel: Panel) -> None:
    register(panel, COMPANY_PANELS)


def render_context(
    session: Any, user: Any, record: Any, registry: list[Panel] = PROJECT_PANELS
) -> list[tuple[Panel, dict[str, Any]]]:
    shown = []
    for panel in registry:
        context = panel.load(session, user, record)
        if context is not None:
            shown.append((panel, context))
    return shown
