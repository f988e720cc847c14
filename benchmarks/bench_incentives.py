"""Benchmark: evaluate every seed measure for 10,000 random projects in every zone.

Run with `.venv/bin/python benchmarks/bench_incentives.py`. Budget (issue 5): at most 2 s
for the evaluation itself; building the random fact sets and loading the policy files are
timed separately and not counted. Two paths are measured:

- core: the policy files loaded from `seed/policies/`, the 7 zones of the issue;
- app: the application's own path on a fresh SQLite database: `crm seed` stores the
  policies, 10,000 projects are stored with facts, the compiled-policy cache compiles the
  stored versions once (`crm.incentives.store.current_policies`), every project's facts are
  read in one query (`services.project_facts`) and compared across every zone of the
  `zone` table (`services.compare_zones`).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crm.incentives.engine import compare  # noqa: E402
from crm.incentives.facts import FACTS, FactType, validate_facts  # noqa: E402
from crm.incentives.policies import load_policies  # noqa: E402

ZONES = {
    "changsha-etdz": "national_etdz",
    "wangcheng-etdz": "national_etdz",
    "ningxiang-etdz": "national_etdz",
    "liuyang-etdz": "national_etdz",
    "changsha-hitech": "national_hitech",
    "changsha-county": "county",
    "shanghai-changning": "district",
}
ZONE_LEVELS = ("national_etdz", "national_hitech", "provincial", "county", "district")
CHAINS = ("construction-machinery", "automobile", "semiconductors-ic", "biomedicine")
BUDGET_SECONDS = 2.0


def random_facts(rng: random.Random) -> dict[str, object]:
    """One project's raw facts: each key present with probability 0.8, random values."""
    raw: dict[str, object] = {}
    for key, fact in FACTS.items():
        if rng.random() < 0.2:
            continue
        if fact.type in (FactType.MONEY_WAN, FactType.USD, FactType.NUMBER):
            raw[key] = Decimal(rng.randrange(0, 2_000_000)) / 100
        elif fact.type is FactType.BOOL:
            raw[key] = rng.random() < 0.5
        elif fact.type is FactType.ENUM:
            raw[key] = rng.choice(fact.choices).code
        elif fact.type is FactType.ENUM_LIST:
            raw[key] = [c.code for c in fact.choices if rng.random() < 0.2]
        else:
            raw[key] = rng.choice(CHAINS)
    return raw


def core_path(projects: int, seed: int) -> float:
    """The pure engine on the policy files; returns the evaluation time in seconds."""
    started = time.perf_counter()
    policies = load_policies(ROOT / "seed" / "policies", zone_codes=ZONES, zone_levels=ZONE_LEVELS)
    loaded = time.perf_counter() - started

    rng = random.Random(seed)
    fact_sets = []
    for _ in range(projects):
        facts, errors = validate_facts(random_facts(rng))
        assert not errors, errors
        fact_sets.append(facts)

    as_of = date(2026, 6, 1)  # every seed policy is in force on this day
    zones = list(ZONES.items())
    results = 0
    cpu = time.process_time()
    started = time.perf_counter()
    for facts in fact_sets:
        for evaluation in compare(policies, zones, facts, as_of):
            results += len(evaluation.results)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu

    measures = sum(len(policy.measures) for policy in policies)
    print("core path (policy files)")
    print(f"  policies loaded: {len(policies)} ({measures} measures) in {loaded * 1000:.1f} ms")
    print(f"  projects: {projects}, zones: {len(zones)}, measure results: {results:,}")
    print(f"  evaluation: {elapsed:.3f} s (budget {BUDGET_SECONDS:.1f} s); CPU {cpu:.3f} s")
    print(f"  per project (all zones): {elapsed / projects * 1e6:.1f} µs")
    return elapsed


def _store_projects(session: object, projects: int, seed: int) -> None:
    """Insert a team, a company and `projects` projects with random facts (in bulk)."""
    from sqlalchemy import insert, select

    from crm.accounts.models import Team
    from crm.incentives.facts import facts_to_json
    from crm.pipeline.models import Company, Project
    from crm.reference.models import IndustrialChain

    team = Team(code="bench", name_zh="基准测试", name_en="Benchmark")
    company = Company(name="基准测试有限公司", normalized_name="基准测试")
    session.add_all([team, company])  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    chains = dict(session.execute(select(IndustrialChain.code, IndustrialChain.id)).all())  # type: ignore[attr-defined]
    rng = random.Random(seed)
    rows = []
    for index in range(projects):
        facts, errors = validate_facts(random_facts(rng))
        assert not errors, errors
        chain = facts.pop("chain", None)
        amount = facts.pop("planned_investment", None)
        rows.append(
            {
                "name": f"项目{index}",
                "company_id": company.id,
                "team_id": team.id,
                "chain_id": chains.get(chain),
                "planned_investment": amount,
                "facts": facts_to_json(facts),
            }
        )
    for start in range(0, len(rows), 5000):
        session.execute(insert(Project), rows[start : start + 5000])  # type: ignore[attr-defined]
    session.commit()  # type: ignore[attr-defined]


def app_path(projects: int, seed: int) -> float:
    """The application's stored-policy path; returns the evaluation time in seconds."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from crm import create_app
    from crm.extensions import db
    from crm.incentives import services, store
    from crm.pipeline.models import Project
    from crm.reference.models import IndustrialChain
    from crm.reference.seed import load_reference_data

    logging.getLogger("alembic").setLevel(logging.WARNING)
    instance = tempfile.mkdtemp(prefix="crm-bench-")
    os.environ["CRM_INSTANCE_PATH"] = instance
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/bench.sqlite3",
            "SECRET_KEY": "benchmark",
            "CRM_SEED_DIR": str(ROOT / "seed"),
        }
    )
    with app.app_context():
        upgrade()
        load_reference_data(db.session, ROOT / "seed")
        db.session.commit()
        started = time.perf_counter()
        _store_projects(db.session, projects, seed)
        stored = time.perf_counter() - started

        store.clear_cache()
        started = time.perf_counter()
        policies = store.current_policies(db.session)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        again = store.current_policies(db.session)
        warm = time.perf_counter() - started
        assert again is policies, "the compiled policies were not cached"

        started = time.perf_counter()
        rows = db.session.execute(
            select(Project.facts, IndustrialChain.code, Project.planned_investment).outerjoin(
                IndustrialChain, IndustrialChain.id == Project.chain_id
            )
        ).all()
        fact_sets = [
            services.project_facts(facts, chain, amount)[0] for facts, chain, amount in rows
        ]
        read = time.perf_counter() - started
        zones = services.zones(db.session)

        as_of = date(2026, 6, 1)
        results = 0
        cpu = time.process_time()
        started = time.perf_counter()
        for facts in fact_sets:
            evaluations, _ = services.compare_zones(
                db.session, zones, facts, as_of, policies=policies
            )
            results += sum(len(item.evaluation.results) for item in evaluations)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        db.engine.dispose()

    measures = sum(len(policy.measures) for policy in policies.policies)
    print("app path (stored policy versions, compiled cache, stored projects)")
    print(f"  {projects} projects stored in {stored:.2f} s (not counted)")
    print(f"  stored policies compiled: {len(policies.policies)} ({measures} measures)")
    print(
        f"    cold (parse and compile): {cold * 1000:.1f} ms; warm (cache hit, 1 query): "
        f"{warm * 1000:.2f} ms"
    )
    print(f"  facts of {len(fact_sets)} projects read and validated: {read:.3f} s (not counted)")
    print(f"  projects: {len(fact_sets)}, zones: {len(zones)}, measure results: {results:,}")
    print(f"  evaluation: {elapsed:.3f} s (budget {BUDGET_SECONDS:.1f} s); CPU {cpu:.3f} s")
    print(f"  per project (all zones): {elapsed / max(1, len(fact_sets)) * 1e6:.1f} µs")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Time the evaluations on each path, print the figures; 1 if over budget.

    The budget is wall-clock time; the CPU time is printed too, since a machine shared with
    other work stretches the first but hardly the second.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20250225)
    parser.add_argument("--path", choices=("core", "app", "both"), default="both")
    args = parser.parse_args(argv)

    timings = []
    if args.path in ("core", "both"):
        timings.append(core_path(args.projects, args.seed))
    if args.path in ("app", "both"):
        timings.append(app_path(args.projects, args.seed))
    over = any(elapsed > BUDGET_SECONDS for elapsed in timings)
    return 1 if over and args.projects == 10_000 else 0


if __name__ == "__main__":
    raise SystemExit(main())
