"""Why a project operation was refused (shared by the services, the web UI and the API)."""

from __future__ import annotations

from crm.pipeline.changes import FieldChange


class ProjectError(ValueError):
    """A refused change; `field` names the input at fault (its API name). Web: 422 form."""

    def __init__(self, message: object, field: str = "name") -> None:
        super().__init__(str(message))
        self.field = field


class NotAllowed(PermissionError):
    """The actor's role or team may not do this (403)."""


class ConflictError(RuntimeError):
    """The project changed since the caller read it: `changes` says what the others changed."""

    def __init__(self, current_version: int, changes: list[FieldChange]) -> None:
        super().__init__("The project was changed by someone else.")
        self.current_version = current_version
        self.changes = changes
