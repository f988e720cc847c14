"""Load reference data from the YAML files in `seed/`, idempotently.

Each record is matched by its code: missing ones are created, changed ones updated, and
unchanged ones left alone, so running the load twice changes nothing. Chains that an
administrator has changed on the chain admin page or through the API (they have entries
in the audit log) are never updated from the file: the administrator's names, flags,
source notes, order and retirement win (docs/reference-data.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.audit import AuditLog
from crm.enums import ALL_STAGES, ZoneLevel
from crm.reference.models import (
    CHAIN_AUDIT_ENTITY,
    ChainMapping,
    ChainSet,
    City,
    DropReason,
    IndustrialChain,
    Region,
    StageLabel,
    Zone,
)


class SeedError(ValueError):
    """A seed file is malformed; the message names the file and the record."""


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    # Records left as an administrator changed them although the file says otherwise.
    kept: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, created: bool) -> None:
        target = self.created if created else self.updated
        target[kind] = target.get(kind, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def summary(self) -> str:
        if not self.changed:
            kept = sum(self.kept.values())
            note = f" (kept {kept} records edited by an administrator)" if kept else ""
            return f"Reference data is up to date; nothing changed{note}."
        parts = [f"created {n} {k}" for k, n in sorted(self.created.items())]
        parts += [f"updated {n} {k}" for k, n in sorted(self.updated.items())]
        parts += [f"kept {n} {k} edited by an administrator" for k, n in sorted(self.kept.items())]
        return "; ".join(parts)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SeedError(f"{path.name}: {exc}") from exc
    if not isinstance(data, dict):
        raise SeedError(f"{path.name}: expected a mapping at the top level")
    return data


def _require(record: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if record.get(k) in (None, "")]
    if missing:
        raise SeedError(f"{where}: missing {', '.join(missing)}")


def _upsert(
    session: Session,
    model: type[Any],
    lookup: dict[str, Any],
    values: dict[str, Any],
    report: SeedReport,
    kind: str,
    keep: set[int] | None = None,
) -> Any:
    """Create or update the record found by `lookup`; one whose id is in `keep` is left
    unchanged (it was edited by an administrator) and counted as kept if it differs."""
    obj = session.scalar(select(model).filter_by(**lookup))
    if obj is None:
        obj = model(**lookup, **values)
        session.add(obj)
        session.flush()
        report.count(kind, True)
        return obj
    if keep and obj.id in keep:
        if any(getattr(obj, key) != value for key, value in values.items()):
            report.kept[kind] = report.kept.get(kind, 0) + 1
        return obj
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    if changed:
        report.count(kind, False)
    return obj


def _date(value: Any, where: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise SeedError(f"{where}: '{value}' is not a date (YYYY-MM-DD)") from exc


def load_zones(session: Session, path: Path, report: SeedReport) -> None:
    data = _read(path)
    cities: dict[str, City] = {}
    for i, rec in enumerate(data.get("cities") or []):
        where = f"{path.name}: cities[{i}]"
        _require(rec, ("code", "name_zh"), where)
        cities[rec["code"]] = _upsert(
            session,
            City,
            {"code": rec["code"]},
            {
                "name_zh": rec["name_zh"],
                "name_en": rec.get("name_en") or rec["name_zh"],
                "province_zh": rec.get("province_zh"),
            },
            report,
            "cities",
        )
    zones = data.get("zones") or []
    levels = {level.value for level in ZoneLevel}
    by_code: dict[str, Zone] = {}
    for i, rec in enumerate(zones):
        where = f"{path.name}: zones[{i}] ({rec.get('code')})"
        _require(rec, ("code", "name_zh", "level"), where)
        if rec["level"] not in levels:
            raise SeedError(f"{where}: unknown level '{rec['level']}'")
        city_code = rec.get("city")
        if city_code and city_code not in cities:
            raise SeedError(f"{where}: unknown city '{city_code}'")
        by_code[rec["code"]] = _upsert(
            session,
            Zone,
            {"code": rec["code"]},
            {
                "name_zh": rec["name_zh"],
                "name_en": rec.get("name_en") or rec["name_zh"],
                "level": ZoneLevel(rec["level"]),
                "city_id": cities[city_code].id if city_code else None,
                "source": rec.get("source"),
            },
            report,
            "zones",
        )
    for i, rec in enumerate(zones):
        host = rec.get("host")
        if host and host not in by_code:
            raise SeedError(f"{path.name}: zones[{i}]: unknown host zone '{host}'")
        host_id = by_code[host].id if host else None
        zone = by_code[rec["code"]]
        if zone.host_id != host_id:
            zone.host_id = host_id


def admin_edited_chain_ids(session: Session) -> set[int]:
    """Chains an administrator has changed (they have audit entries): one query."""
    return set(
        session.scalars(
            select(AuditLog.entity_id).where(AuditLog.entity_type == CHAIN_AUDIT_ENTITY).distinct()
        )
    )


def load_chains(session: Session, path: Path, report: SeedReport) -> None:
    data = _read(path)
    chains: dict[tuple[str, str], IndustrialChain] = {}
    edited = admin_edited_chain_ids(session)
    for i, rec in enumerate(data.get("sets") or []):
        where = f"{path.name}: sets[{i}]"
        _require(rec, ("code", "name_zh"), where)
        chain_set = _upsert(
            session,
            ChainSet,
            {"code": rec["code"]},
            {
                "name_zh": rec["name_zh"],
                "name_en": rec.get("name_en") or rec["name_zh"],
                "adopted_on": _date(rec.get("adopted_on"), where),
                "current": bool(rec.get("current", False)),
                "source": rec.get("source"),
            },
            report,
            "chain sets",
        )
        seen: set[str] = set()
        for j, chain in enumerate(rec.get("chains") or []):
            cwhere = f"{where}.chains[{j}] ({chain.get('code')})"
            _require(chain, ("code", "name_zh"), cwhere)
            if chain["code"] in seen:
                raise SeedError(f"{cwhere}: duplicate code")
            seen.add(chain["code"])
            chains[(rec["code"], chain["code"])] = _upsert(
                session,
                IndustrialChain,
                {"set_id": chain_set.id, "code": chain["code"]},
                {
                    "name_zh": chain["name_zh"],
                    "name_en": chain.get("name_en") or chain["name_zh"],
                    "confirmed": bool(chain.get("confirmed", False)),
                    "source": chain.get("source"),
                    "aliases_zh": list(chain.get("aliases_zh") or []),
                    "sort": j + 1,
                },
                report,
                "chains",
                keep=edited,
            )
    for i, rec in enumerate(data.get("mappings") or []):
        where = f"{path.name}: mappings[{i}]"
        source = chains.get((rec.get("from_set"), rec.get("from_code")))
        target = chains.get((rec.get("to_set"), rec.get("to_code")))
        if source is None or target is None:
            raise SeedError(f"{where}: unknown chain in mapping")
        _upsert(
            session,
            ChainMapping,
            {"from_chain_id": source.id, "to_chain_id": target.id},
            {},
            report,
            "chain mappings",
        )


def load_regions(session: Session, path: Path, report: SeedReport) -> None:
    data = _read(path)
    for i, rec in enumerate(data.get("regions") or []):
        where = f"{path.name}: regions[{i}]"
        _require(rec, ("code", "name_zh"), where)
        _upsert(
            session,
            Region,
            {"code": rec["code"]},
            {
                "name_zh": rec["name_zh"],
                "name_en": rec.get("name_en") or rec["name_zh"],
                "sort": int(rec.get("sort", i + 1)),
                "provinces_zh": list(rec.get("provinces_zh") or []),
                "cities_zh": list(rec.get("cities_zh") or []),
            },
            report,
            "regions",
        )


def load_stages(session: Session, path: Path, report: SeedReport) -> None:
    data = _read(path)
    keys = {s.value for s in ALL_STAGES}
    for i, rec in enumerate(data.get("stages") or []):
        where = f"{path.name}: stages[{i}]"
        _require(rec, ("key", "name_zh"), where)
        if rec["key"] not in keys:
            raise SeedError(f"{where}: unknown stage key '{rec['key']}'")
        _upsert(
            session,
            StageLabel,
            {"key": rec["key"]},
            {
                "name_zh": rec["name_zh"],
                "name_en": rec.get("name_en") or rec["key"],
                "order": int(rec.get("order", i + 1)),
                "kind": rec.get("kind", "main"),
            },
            report,
            "stages",
        )
    for i, rec in enumerate(data.get("drop_reasons") or []):
        _require(rec, ("code", "name_zh"), f"{path.name}: drop_reasons[{i}]")
        _upsert(
            session,
            DropReason,
            {"code": rec["code"]},
            {"name_zh": rec["name_zh"], "name_en": rec.get("name_en") or rec["code"]},
            report,
            "drop reasons",
        )


LOADERS = (
    ("zones.yaml", load_zones),
    ("chains.yaml", load_chains),
    ("regions.yaml", load_regions),
    ("stages.yaml", load_stages),
)


def load_reference_data(session: Session, seed_dir: Path) -> SeedReport:
    """Load every reference file in `seed_dir`; the caller commits (or rolls back on error)."""
    report = SeedReport()
    for filename, loader in LOADERS:
        path = seed_dir / filename
        if not path.exists():
            raise SeedError(f"{filename}: file not found in {seed_dir}")
        loader(session, path, report)
    # Features with seed data of their own (policies, ...) have a `seed_data` module with
    # `load(session, seed_dir, report)`, run after the reference data it may refer to.
    from crm import _feature_modules

    for module in _feature_modules("seed_data"):
        module.load(session, seed_dir, report)  # type: ignore[attr-defined]
    session.flush()
    return report
