"""`crm seed` hook: create the default reminder rules (never overwriting admins' edits)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from crm.reminders.rules import load_default_rules

RULES_FILE = "reminder_rules.yaml"


def load(session: Session, seed_dir: Path, report: object) -> None:
    from crm.reference.seed import SeedError

    path = seed_dir / RULES_FILE
    if not path.exists():
        raise SeedError(f"{RULES_FILE}: file not found in {seed_dir}")
    try:
        created, _kept = load_default_rules(session, path)
    except (ValueError, KeyError, TypeError) as exc:
        raise SeedError(str(exc)) from exc
    for _ in range(created):
        report.count("reminder rules", True)  # type: ignore[attr-defined]
