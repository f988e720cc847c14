"""Panels on the project page contributed by other features (visits, incentives, ...).

A feature appends a `Panel`; the project page renders each visible panel's template with
the context its `load` function returns. `load` gets the session, the user and the project
and must use a bounded number of queries (the page's query count must not grow with data).
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


PROJECT_PANELS: list[Panel] = []


def register(panel: Panel) -> None:
    if all(existing.key != panel.key for existing in PROJECT_PANELS):
        PROJECT_PANELS.append(panel)
        PROJECT_PANELS.sort(key=lambda p: p.order)


def render_context(session: Any, user: Any, project: Any) -> list[tuple[Panel, dict[str, Any]]]:
    shown = []
    for panel in PROJECT_PANELS:
        context = panel.load(session, user, project)
        if context is not None:
            shown.append((panel, context))
    return shown
