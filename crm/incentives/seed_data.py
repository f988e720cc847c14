"""Load the policy files of `seed/policies/` into the database (run by `crm seed`).

Each file goes through the validating loader with the zone codes of the `zone` table. A
file whose parsed content equals the current version, or any version loaded from a seed
file before, changes nothing (so a second run is a no-op, and re-running the seed does not
undo a newer version an administrator uploaded). A changed file becomes a new version. A
file with errors is refused whole, with the file name, line and column of each problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.incentives import store
from crm.incentives.models import PolicyVersion
from crm.incentives.policies import PolicyLoadError
from crm.reference.seed import SeedError

POLICY_DIR = "policies"


def _known_seed_hash(session: Session, policy_id: int, digest: str) -> bool:
    return (
        session.scalar(
            select(PolicyVersion.id).where(
                PolicyVersion.policy_id == policy_id,
                PolicyVersion.origin == "seed",
                PolicyVersion.content_hash == digest,
            )
        )
        is not None
    )


def load(session: Session, seed_dir: Path, report: Any) -> None:
    """Load every `*.yaml` policy file; count created and updated policies in `report`.

    Every file is checked; if any is refused (or two files share a policy id), `SeedError`
    lists the problems of every refused file with their positions, and the caller rolls
    back: nothing of a refused file is ever stored.
    """
    directory = Path(seed_dir) / POLICY_DIR
    if not directory.is_dir():
        return
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        name = f"{POLICY_DIR}/{path.name}"
        try:
            preview = store.preview_upload(session, text, name)
        except PolicyLoadError as error:
            problems.append(str(error))
            continue
        if preview.policy.id in seen:
            other = seen[preview.policy.id]
            problems.append(f"{name}: policy id {preview.policy.id!r} is also used by {other}")
            continue
        seen[preview.policy.id] = name
        if preview.unchanged:
            continue
        if not preview.is_new:
            stored = store.find_policy(session, preview.policy.id)
            assert stored is not None
            if _known_seed_hash(session, stored.id, preview.content_hash):
                continue  # an administrator's newer version stays current
        store.save_version(
            session, text, file_name=name, origin="seed", user_id=None, preview=preview
        )
        report.count("incentive policies", preview.is_new)
    if problems:
        raise SeedError("policy files refused:\n" + "\n".join(problems))
