"""Load test: gunicorn with 2 workers on a generated database, locust headless, then every
acknowledged write checked in the database.

    python benchmarks/load.py                          # SQLite and PostgreSQL, 50 users, 60 s
    python benchmarks/load.py --database sqlite:///benchmarks/out/bench.sqlite3
    python benchmarks/load.py --users 10 --seconds 10 --scale 0.01   # the CI version

Passes when no request failed, the p95 over all requests is under 300 ms, and every write
the server acknowledged (see benchmarks/locustfile.py) is found in the database.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate import BENCH_PASSWORD, DEFAULT_SQLITE, build_app, generate  # noqa: E402

P95_BUDGET_MS = int(os.environ.get("CRM_LOAD_P95_MS", "300"))
POSTGRES_URL = os.environ.get(
    "CRM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench"
)


@dataclass
class LoadResult:
    database: str
    requests: int = 0
    failures: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    rps: float = 0.0
    measured: int = 0  # requests in the percentiles (all but logging in and discovery)
    server_cpu_s: float = 0.0  # CPU seconds used by gunicorn's processes during the run
    acknowledged: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def cpu_per_request_ms(self) -> float:
        """What the app itself costs, whatever else keeps the machine busy."""
        return 1000 * self.server_cpu_s / self.requests if self.requests else 0.0

    @property
    def passed(self) -> bool:
        return (
            self.requests > 0
            and self.failures == 0
            and self.p95_ms < P95_BUDGET_MS
            and not self.missing
            and not self.errors
        )

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.by_kind.items())) or "none"
        lines = [
            f"{self.database}: {self.requests} requests, {self.failures} failures, "
            f"p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms over {self.measured} "
            f"(budget < {P95_BUDGET_MS}), "
            f"{self.rps:.1f} req/s, app server CPU {self.cpu_per_request_ms:.0f} ms a request; "
            f"{self.acknowledged} acknowledged writes ({kinds}), "
            f"{len(self.missing)} missing -> {'PASS' if self.passed else 'FAIL'}"
        ]
        lines += [f"  missing: {m}" for m in self.missing[:10]]
        lines += [f"  error: {e}" for e in self.errors[:10]]
        return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(database_url: str, instance: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CRM_DATABASE_URL": database_url,
            "CRM_SECRET_KEY": "load-test-secret-key",
            "CRM_INSTANCE_PATH": str(instance),
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def start_gunicorn(
    database_url: str,
    instance: Path,
    port: int,
    workers: int = 2,
    log: Path | None = None,
    threads: int = 4,
) -> subprocess.Popen:
    """gunicorn serving wsgi:app on 127.0.0.1:port (as in production: `workers` processes
    of `threads` threads each); returns once /healthz answers."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        # Longer than a simulated user's pause (at most 2 s): a kept-alive connection is not
        # closed by the server just as the client sends its next request on it.
        "--keep-alive",
        "5",
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "wsgi:app",
    ]
    output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=server_environment(database_url, instance),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if log:
            output.close()  # the server has its own copy of the descriptor
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} (see {log})")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return process
        except OSError:
            time.sleep(0.3)
    stop(process)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def process_group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of the live processes of a process group (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ...
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def prepare_people(database_url: str, how_many: int, path: Path) -> None:
    """Pick officers and leads (and a leader and the admin) and give each an API token."""
    from sqlalchemy import select

    from crm.accounts.models import Team, User
    from crm.accounts.services import issue_token
    from crm.enums import Role
    from crm.extensions import db

    app = build_app(database_url)
    people = []
    with app.app_context():
        users = db.session.scalars(
            select(User)
            .where(User.active.is_(True), User.role.in_((Role.OFFICER, Role.LEAD)))
            .order_by(User.id)
            .limit(max(1, how_many - 2))
        ).all()
        extras = db.session.scalars(
            select(User).where(User.role.in_((Role.LEADER, Role.ADMIN))).order_by(User.id).limit(2)
        ).all()
        teams = dict(db.session.execute(select(Team.id, Team.code)).all())
        for user in [*users, *extras]:
            issued = issue_token(db.session, user, "load test")
            people.append(
                {
                    "email": user.email,
                    "password": BENCH_PASSWORD,
                    "token": issued.secret,
                    # What the simulated user may do depends on these (see locustfile.py).
                    "role": user.role.value,
                    "team": teams.get(user.team_id),
                }
            )
        db.session.commit()
        db.engine.dispose()
    path.write_text(json.dumps(people), encoding="utf-8")


def run_locust(host: str, users: int, seconds: int, workdir: Path) -> Path:
    prefix = workdir / "locust"
    env = dict(os.environ)
    env.update(
        {
            "CRM_LOAD_USERS": str(workdir / "people.json"),
            "CRM_LOAD_ACKS": str(workdir / "acks.jsonl"),
            "CRM_LOAD_TIMINGS": str(workdir / "timings.json"),
        }
    )
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "benchmarks" / "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(max(1, users // 5)),
        "--run-time",
        f"{seconds}s",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "10",
    ]
    with open(workdir / "locust.log", "wb") as log:
        subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=seconds + 120,
            check=False,
        )
    return Path(f"{prefix}_stats.csv")


def read_stats(stats: Path, result: LoadResult) -> None:
    if not stats.exists():
        result.errors.append(f"locust wrote no statistics ({stats})")
        return
    with stats.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                result.requests = int(row["Request Count"])
                result.failures = int(row["Failure Count"])
                result.p50_ms = float(row["50%"] or 0)
                result.p95_ms = float(row["95%"] or 0)
                result.rps = float(row["Requests/s"] or 0)
    # The percentiles of the work itself: logging in and discovering are left out
    # (locust's own figures, which include them, are in locust_stats.csv).
    timings_file = stats.parent / "timings.json"
    if timings_file.exists():
        timings = sorted(json.loads(timings_file.read_text(encoding="utf-8")))
        if timings:
            result.p50_ms = timings[len(timings) // 2]
            result.p95_ms = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
            result.measured = len(timings)
    failures = stats.with_name(stats.name.replace("_stats.csv", "_failures.csv"))
    if failures.exists():
        with failures.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                result.errors.append(
                    f"{row['Method']} {row['Name']}: {row['Error']} x{row['Occurrences']}"
                )


CHECKS = {
    # kind -> SQL finding the write by its unique marker
    "token": "SELECT 1 FROM api_token WHERE name = :marker",
    "visit": "SELECT 1 FROM visit WHERE purpose = :marker",
    "transition": "SELECT 1 FROM stage_change WHERE note = :marker",
}


def verify_writes(database_url: str, acks: Path, result: LoadResult) -> None:
    """Every acknowledged write, looked up one by one."""
    from sqlalchemy import create_engine, text

    if not acks.exists():
        return
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            for line in acks.read_text(encoding="utf-8").splitlines():
                ack = json.loads(line)
                result.acknowledged += 1
                result.by_kind[ack["kind"]] = result.by_kind.get(ack["kind"], 0) + 1
                found = conn.execute(text(CHECKS[ack["kind"]]), {"marker": ack["marker"]}).first()
                if found is None:
                    result.missing.append(ack)
    finally:
        engine.dispose()


def ensure_database(database_url: str, scale: float) -> None:
    from benchmarks.run import needs_generation

    why = needs_generation(database_url, scale)
    if why:
        print(f"Generating {database_url}: {why}", flush=True)
        generate(database_url, scale)


def load_test(
    database_url: str,
    *,
    users: int = 50,
    seconds: int = 60,
    workers: int = 2,
    threads: int = 4,
    scale: float = 1.0,
    workdir: Path | None = None,
) -> LoadResult:
    from sqlalchemy.engine import make_url

    ensure_database(database_url, scale)
    workdir = workdir or Path(tempfile.mkdtemp(prefix="crm-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "acks.jsonl").unlink(missing_ok=True)
    prepare_people(database_url, users, workdir / "people.json")
    result = LoadResult(database=make_url(database_url).get_backend_name())
    port = free_port()
    log = workdir / "gunicorn.log"
    server = start_gunicorn(database_url, workdir / "instance", port, workers, log, threads)
    cpu_before = process_group_cpu(server.pid)
    try:
        stats = run_locust(f"http://127.0.0.1:{port}", users, seconds, workdir)
        result.server_cpu_s = process_group_cpu(server.pid) - cpu_before
    finally:
        stop(server)
    read_stats(stats, result)
    verify_writes(database_url, workdir / "acks.jsonl", result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", action="append", help="SQLAlchemy URL (repeatable)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="per worker (gthread)")
    parser.add_argument("--scale", type=float, default=1.0, help="generated size if needed")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    urls = args.database or [f"sqlite:///{DEFAULT_SQLITE}"]
    if not args.database and not args.no_postgres:
        from benchmarks.run import postgres_reachable

        if postgres_reachable(POSTGRES_URL):
            urls.append(POSTGRES_URL)
    results = []
    for url in urls:
        result = load_test(
            url,
            users=args.users,
            seconds=args.seconds,
            workers=args.workers,
            threads=args.threads,
            scale=args.scale,
        )
        print(result.summary(), flush=True)
        results.append(result)
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
