"""Stored policy versions and the per-process cache of compiled policies.

Every change to a policy is a new `PolicyVersion` holding the YAML text; the current
version of each policy is compiled once per process and shared by every evaluation
(`current_policies`). The cache is keyed by the current versions (id, number, content
hash), so a version saved by another process is picked up on the next request, and it is
cleared in this process whenever a version is saved.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import User
from crm.enums import ZoneLevel
from crm.incentives.model import Policy, describe_changes, policy_to_dict
from crm.incentives.models import PolicyVersion, StoredPolicy
from crm.incentives.policies import PolicyIssue, PolicyLoadError, parse_policy
from crm.reference.models import Zone

ORIGINS = ("seed", "upload", "editor")
MAX_SOURCE_CHARS = 256 * 1024  # a policy file is a few dozen KB at most


class StalePolicyVersion(Exception):
    """The policy changed between the preview and the apply (someone else saved a version)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the current version is now {current}")
        self.current = current


@dataclass(frozen=True)
class PolicySet:
    """The compiled current version of every stored policy.

    `version_ids` maps each policy code to the `PolicyVersion.id` compiled; `broken` maps
    codes whose stored text no longer compiles (e.g. after a change of the fact catalogue)
    to the error, so the admin pages can say so instead of failing.
    """

    policies: tuple[Policy, ...]
    version_ids: dict[str, int] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)


_CACHE: dict[tuple[tuple[int, int, str], ...], PolicySet] = {}
_VERSIONS: dict[tuple[int, str], Policy] = {}  # any version by (id, hash), for reading
_LOCK = threading.Lock()
_COMPILING = threading.Lock()
_CACHE_SIZE = 8


def clear_cache() -> None:
    """Forget every compiled policy of this process (done whenever a version is saved)."""
    with _LOCK:
        _CACHE.clear()
        _VERSIONS.clear()


def zone_reference(session: Session) -> tuple[set[str], set[str]]:
    """The zone codes and zone levels a policy file may name in `covers`."""
    codes = set(session.scalars(select(Zone.code)))
    return codes, {level.value for level in ZoneLevel}


def content_hash(policy: Policy) -> str:
    """SHA-256 of the parsed policy's canonical JSON, without its version number."""
    data = {k: v for k, v in policy_to_dict(policy).items() if k != "version"}
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_source(
    text: str, source_name: str, zone_codes: set[str], zone_levels: set[str]
) -> Policy:
    """Validate and compile a policy text; `PolicyLoadError` lists every problem."""
    if len(text) > MAX_SOURCE_CHARS:
        limit = MAX_SOURCE_CHARS // 1024
        raise PolicyLoadError(
            [PolicyIssue(source_name, f"the file is larger than {limit} KB; is it a policy?")]
        )
    return parse_policy(text, source_name, zone_codes=zone_codes, zone_levels=zone_levels)


def _compile(row: PolicyVersion | tuple, zone_codes: set[str], zone_levels: set[str]) -> Policy:
    policy = parse_source(row.source_text, row.file_name or "policy.yaml", zone_codes, zone_levels)
    return dataclasses.replace(policy, version=row.number)


def current_policies(session: Session) -> PolicySet:
    """The compiled current versions of all policies; compiled once per process.

    One query when the cache is warm; parsing happens only when a policy's current version
    changed since the last call.
    """
    rows = session.execute(
        select(PolicyVersion.id, PolicyVersion.number, PolicyVersion.content_hash)
        .join(
            StoredPolicy,
            and_(
                StoredPolicy.id == PolicyVersion.policy_id,
                StoredPolicy.current_version == PolicyVersion.number,
            ),
        )
        .order_by(StoredPolicy.code)
    ).all()
    key = tuple((row.id, row.number, row.content_hash) for row in rows)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    with _COMPILING:  # threads of a worker that all need it compile it once, not each
        cached = _CACHE.get(key)
        return cached if cached is not None else _compile_current(session, rows, key)


def _compile_current(
    session: Session, rows: Sequence[Any], key: tuple[tuple[int, int, str], ...]
) -> PolicySet:
    """Compile the current versions listed in `rows` and remember them under `key`."""
    texts = session.execute(
        select(
            PolicyVersion.id,
            PolicyVersion.number,
            PolicyVersion.source_text,
            PolicyVersion.file_name,
            StoredPolicy.code,
        )
        .join(StoredPolicy, StoredPolicy.id == PolicyVersion.policy_id)
        .where(PolicyVersion.id.in_([row.id for row in rows]))
        .order_by(StoredPolicy.code)
    ).all()
    zone_codes, zone_levels = zone_reference(session)
    policies: list[Policy] = []
    version_ids: dict[str, int] = {}
    broken: dict[str, str] = {}
    for row in texts:
        try:
            policies.append(_compile(row, zone_codes, zone_levels))
        except PolicyLoadError as error:
            broken[row.code] = str(error)
            continue
        version_ids[row.code] = row.id
    compiled = PolicySet(tuple(policies), version_ids, broken)
    with _LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = compiled
    return compiled


def compiled_version(session: Session, version: PolicyVersion) -> Policy:
    """Any stored version compiled (cached by id and hash), for reading old versions."""
    key = (version.id, version.content_hash)
    policy = _VERSIONS.get(key)
    if policy is None:
        zone_codes, zone_levels = zone_reference(session)
        policy = _compile(version, zone_codes, zone_levels)
        with _LOCK:
            if len(_VERSIONS) >= 64:
                _VERSIONS.clear()
            _VERSIONS[key] = policy
    return policy


def find_policy(session: Session, code: str) -> StoredPolicy | None:
    if not (0 < len(code) <= 100 and code.isascii() and code.isprintable()):
        return None  # policy ids are short ASCII words; NUL bytes never reach SQL
    return session.scalar(select(StoredPolicy).where(StoredPolicy.code == code))


def find_version(session: Session, policy: StoredPolicy, number: int) -> PolicyVersion | None:
    return session.scalar(
        select(PolicyVersion).where(
            PolicyVersion.policy_id == policy.id, PolicyVersion.number == number
        )
    )


def versions_of(session: Session, policy: StoredPolicy) -> Sequence[tuple[PolicyVersion, str]]:
    """Every version of a policy, newest first, with the name of who saved it."""
    rows = session.execute(
        select(PolicyVersion, func.coalesce(func.nullif(User.name, ""), User.email))
        .outerjoin(User, User.id == PolicyVersion.created_by_id)
        .where(PolicyVersion.policy_id == policy.id)
        .order_by(PolicyVersion.number.desc())
    ).all()
    return [(version, name) for version, name in rows]


@dataclass(frozen=True)
class PolicySummary:
    """A row of the policy list: the current version and how many versions exist."""

    policy: StoredPolicy
    current: PolicyVersion
    version_count: int


def policy_summaries(session: Session) -> list[PolicySummary]:
    """Every stored policy with its current version, ordered by code (two queries)."""
    rows = session.execute(
        select(StoredPolicy, PolicyVersion)
        .join(
            PolicyVersion,
            and_(
                PolicyVersion.policy_id == StoredPolicy.id,
                PolicyVersion.number == StoredPolicy.current_version,
            ),
        )
        .order_by(StoredPolicy.code)
    ).all()
    counts = dict(
        session.execute(
            select(PolicyVersion.policy_id, func.count()).group_by(PolicyVersion.policy_id)
        ).all()
    )
    return [PolicySummary(p, v, counts.get(p.id, 1)) for p, v in rows]


@dataclass(frozen=True)
class UploadPreview:
    """What applying a policy text would do: a new policy, a new version, or nothing."""

    policy: Policy
    content_hash: str
    current: Policy | None
    current_number: int | None
    changes: list[str]

    @property
    def is_new(self) -> bool:
        return self.current is None

    @property
    def unchanged(self) -> bool:
        return self.current is not None and not self.changes

    @property
    def new_number(self) -> int:
        return (self.current_number or 0) + 1


def preview_upload(session: Session, text: str, file_name: str) -> UploadPreview:
    """Validate a policy text and say what applying it would change (nothing is written).

    Raises `PolicyLoadError` with every problem (line, column and path of each).
    """
    zone_codes, zone_levels = zone_reference(session)
    policy = parse_source(text, file_name, zone_codes, zone_levels)
    digest = content_hash(policy)
    stored = find_policy(session, policy.id)
    if stored is None:
        return UploadPreview(policy, digest, None, None, [])
    version = find_version(session, stored, stored.current_version)
    assert version is not None
    current = compiled_version(session, version)
    if version.content_hash == digest:
        return UploadPreview(policy, digest, current, stored.current_version, [])
    numbered = dataclasses.replace(policy, version=stored.current_version + 1)
    changes = describe_changes(current, numbered)
    return UploadPreview(policy, digest, current, stored.current_version, changes)


def save_version(
    session: Session,
    text: str,
    *,
    file_name: str,
    origin: str,
    user_id: int | None,
    note: str | None = None,
    expected_current: int | None = None,
    preview: UploadPreview | None = None,
) -> PolicyVersion | None:
    """Store a policy text as the policy's new current version; None if it changes nothing.

    The text is validated again (`PolicyLoadError`). With `expected_current` (the version
    the preview compared against; 0 for a new policy), `StalePolicyVersion` is raised when
    another version was saved in between. The new version is numbered current + 1.
    """
    if origin not in ORIGINS:
        raise ValueError(f"unknown origin {origin!r}")
    preview = preview or preview_upload(session, text, file_name)
    if preview.unchanged:
        return None
    current = preview.current_number or 0
    if expected_current is not None and expected_current != current:
        raise StalePolicyVersion(current)
    stored = find_policy(session, preview.policy.id)
    if stored is None:
        stored = StoredPolicy(code=preview.policy.id, current_version=0)
        session.add(stored)
        session.flush()
    policy = preview.policy
    version = PolicyVersion(
        policy_id=stored.id,
        number=preview.new_number,
        source_text=text,
        content_hash=preview.content_hash,
        origin=origin,
        file_name=file_name[:200],
        title_zh=policy.title_zh[:500],
        title_en=policy.title_en[:500],
        level=policy.level.value,
        covers=list(policy.covers),
        effective_from=policy.effective_from,
        effective_to=policy.effective_to,
        measure_count=len(policy.measures),
        note=(note or "").replace("\x00", "") or None,
        created_by_id=user_id,
    )
    session.add(version)
    stored.current_version = preview.new_number
    session.flush()
    if origin != "seed":  # seed loads are recorded by the version rows themselves
        _audit(session, stored, version, preview, user_id)
    clear_cache()
    return version


def _audit(
    session: Session,
    stored: StoredPolicy,
    version: PolicyVersion,
    preview: UploadPreview,
    user_id: int | None,
) -> None:
    audit.record(
        session,
        user_id=user_id,
        entity_type="incentive_policy",
        entity_id=stored.id,
        action="new_version",
        changes={
            "policy": preview.policy.id,
            "version": version.number,
            "origin": version.origin,
            "changes": preview.changes if not preview.is_new else ["policy added"],
        },
    )
