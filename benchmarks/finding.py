"""Benchmark of the finding pages: project list, kanban board and search.

    python benchmarks/finding.py generate sqlite:////tmp/bench.sqlite3 [--projects 100000]
    python benchmarks/finding.py run sqlite:////tmp/bench.sqlite3 [--repeat 40]

`generate` migrates an empty database, loads the reference data, 30 teams of 10 users and
the demo generator's projects and companies. `run` times requests through the app (server
time, no network) as an admin (sees everything) and as officers (team scope), and prints
p50/p95 wall-clock time, p50/p95 CPU time of this process (on SQLite that is the whole
request, database included, and it grows far less than wall-clock time when other programs
load the machine; on PostgreSQL it leaves out the database server's share), and SQL
statements per request.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-password-2026"


def make_app(url: str) -> Any:
    from crm import create_app

    os.environ.setdefault("CRM_INSTANCE_PATH", tempfile.mkdtemp(prefix="crm-bench-"))
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "CRM_SEED_DIR": str(ROOT / "seed"),
            "SERVER_NAME": "localhost",
        }
    )


def generate(url: str, projects: int, companies: int) -> None:
    from flask_migrate import upgrade

    from crm.accounts.models import Team, User
    from crm.enums import Role
    from crm.extensions import db
    from crm.reference.demo import generate as generate_projects
    from crm.reference.models import Zone
    from crm.reference.seed import load_reference_data
    from crm.security import hash_password

    app = make_app(url)
    with app.app_context():
        upgrade()
        load_reference_data(db.session, ROOT / "seed")
        zone_ids = list(db.session.scalars(select(Zone.id)))
        db.session.execute(
            insert(Team),
            [
                {
                    "code": f"bench-{i:02d}",
                    "name_zh": f"招商{i}队",
                    "name_en": f"Team {i}",
                    "zone_id": zone_ids[i % len(zone_ids)],
                }
                for i in range(30)
            ],
        )
        team_ids = list(db.session.scalars(select(Team.id).order_by(Team.id)))
        hashed = hash_password(PASSWORD)
        users = [
            {"email": "admin@bench.example", "name": "管理员", "role": Role.ADMIN, "team_id": None}
        ]
        for t, team_id in enumerate(team_ids):
            for u in range(10):
                users.append(
                    {
                        "email": f"u{t:02d}{u}@bench.example",
                        "name": f"专员{t}-{u}",
                        "role": Role.LEAD if u == 0 else Role.OFFICER,
                        "team_id": team_id,
                    }
                )
        db.session.execute(
            insert(User), [{**u, "password_hash": hashed, "recovery_codes": []} for u in users]
        )
        started = time.perf_counter()
        generate_projects(
            db.session,
            projects=projects,
            companies=companies,
            rng=random.Random(1),
            today=date.today(),
        )
        spread_updates(db.session, random.Random(2))
        db.session.commit()
        print(f"generated {projects} projects in {time.perf_counter() - started:.1f} s")


def spread_updates(session: Any, rng: random.Random) -> None:
    """Give projects distinct last-change times over two years (the generator stamps them
    all with the same instant, which no real database looks like and which misleads the
    query planner's statistics)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import bindparam, update

    from crm.pipeline.models import Project

    table = Project.__table__
    now = datetime.now(UTC)
    ids = list(session.scalars(select(Project.id)))
    stmt = update(table).where(table.c.id == bindparam("b_id")).values(updated_at=bindparam("b_at"))
    for start in range(0, len(ids), 5000):
        session.execute(
            stmt,
            [
                {"b_id": pid, "b_at": now - timedelta(seconds=rng.randint(0, 2 * 365 * 86400))}
                for pid in ids[start : start + 5000]
            ],
        )


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def analyze(url: str) -> None:
    """Fresh planner statistics, as autovacuum (PostgreSQL) or PRAGMA optimize (SQLite) keep."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    engine.dispose()


def run(url: str, repeat: int) -> None:
    from crm.extensions import db

    app = make_app(url)
    pages = [
        ("list", "/projects"),
        ("list filtered", "/projects?stage=signed&stage=landed&min=10000&sort=amount"),
        ("list sorted by name p20", "/projects?sort=name&dir=asc&page=20"),
        ("list key + top500", "/projects?key=1&tag=top500"),
        ("list zone + region", "/projects?zone=wangcheng-etdz&region=yangtze-delta"),
        ("board", "/board"),
        ("board filtered", "/board?chain=automobile&min=5000"),
        ("board key projects", "/board?key=1"),
        ("board by zone", "/board?zone=wangcheng-etdz"),
        ("board column page", "/board/signed/cards?start=20"),
        ("search 2 Chinese chars", "/search?q=%E5%8D%8E%E8%8A%AF"),
        ("search pinyin initials", "/search?q=hxzk"),
        ("search pinyin", "/search?q=huaxin"),
        ("search nothing found", "/search?q=zzzqqq"),
        ("api search", "/api/v1/search?q=hxzk"),
    ]
    with app.app_context():
        counter = {"n": 0}

        @event.listens_for(db.engine, "before_cursor_execute")
        def _count(*args: Any) -> None:
            counter["n"] += 1

        print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
        print(
            f"{'page':28} {'actor':6} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8} {'cpu p95':>8}"
            f" {'queries':>8}"
        )
        for actor in ("admin@bench.example", "u050@bench.example", "u051@bench.example"):
            client = app.test_client()
            client.post("/login", data={"email": actor, "password": PASSWORD})
            for label, path in pages:
                times, cpu = [], []
                for i in range(repeat + 3):
                    counter["n"] = 0
                    started, cpu_started = time.perf_counter(), time.process_time()
                    response = client.get(path)
                    elapsed = (time.perf_counter() - started) * 1000
                    cpu_ms = (time.process_time() - cpu_started) * 1000
                    assert response.status_code == 200, (path, response.status_code)
                    if i >= 3:  # warm-up
                        times.append(elapsed)
                        cpu.append(cpu_ms)
                name = actor.split("@")[0]
                print(
                    f"{label:28} {name:6} {statistics.median(times):8.1f} "
                    f"{_percentile(times, 95):8.1f} {statistics.median(cpu):8.1f} "
                    f"{_percentile(cpu, 95):8.1f} {counter['n']:8d}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=("generate", "run", "spread"))
    parser.add_argument("url")
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument(
        "--analyze", action="store_true", help="refresh planner statistics before running"
    )
    args = parser.parse_args()
    if args.command == "generate":
        generate(args.url, args.projects, args.companies)
    elif args.command == "spread":  # for databases generated before spread_updates existed
        from crm.extensions import db

        with make_app(args.url).app_context():
            spread_updates(db.session, random.Random(2))
            db.session.commit()
    else:
        if args.analyze:
            analyze(args.url)
        run(args.url, args.repeat)


if __name__ == "__main__":
    main()
