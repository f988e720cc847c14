"""PostgreSQL restarted while the app is serving: requests during the outage get a 503 (the
HTML error page, or problem+json under /api/) with Retry-After, never a 500 or a
traceback; the app recovers by itself, without a restart; no acknowledged write is lost.

Runs in the PostgreSQL run only (TEST_DATABASE_URL=postgresql...), on a machine where
`pg_ctlcluster` can stop and start the server (Debian's postgresql-common, as root or
postgres). Everything else skips it, saying why.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from benchmarks.load import free_port, start_gunicorn, stop

CSRF = re.compile(r'name="(?:[\w-]+-)?csrf_token"[^>]*value="([^"]+)"')
OUTAGE_SECONDS = 3
RECOVERY_SECONDS = 30


def _cluster() -> tuple[str, str] | None:
    conf = Path("/etc/postgresql")
    if not shutil.which("pg_ctlcluster") or not conf.is_dir():
        return None
    for version in sorted(conf.iterdir(), reverse=True):
        if (version / "main").is_dir():
            return version.name, "main"
    return None


def _pg_ctl(action: str, cluster: tuple[str, str]) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action],
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def postgres_app(tmp_path):
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("needs TEST_DATABASE_URL=postgresql... (runs in the PostgreSQL run)")
    cluster = _cluster()
    if cluster is None:
        pytest.skip("pg_ctlcluster or /etc/postgresql/<version>/main not found")
    if os.geteuid() != 0 and os.environ.get("USER") != "postgres":
        pytest.skip("restarting PostgreSQL needs root or the postgres user")
    from sqlalchemy.engine import make_url

    from benchmarks.generate import generate

    url = make_url(base).set(database=f"crm_restart_{uuid.uuid4().hex[:8]}")
    url_text = url.render_as_string(hide_password=False)
    generate(url_text, 0.002)
    port = free_port()
    server = start_gunicorn(url_text, tmp_path / "instance", port, 2, tmp_path / "gunicorn.log")
    try:
        yield f"http://127.0.0.1:{port}", url_text, cluster
    finally:
        stop(server)
        _drop(url_text)


def _drop(url_text: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(url_text)
    for _ in range(10):  # the server may still be coming back
        try:
            admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :n AND pid <> pg_backend_pid()"
                    ),
                    {"n": url.database},
                )
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
            admin.dispose()
            return
        except Exception:
            time.sleep(1)


def _logged_in(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=10).text
    response = session.post(
        f"{base}/login",
        data={
            "email": "lead.wangcheng@example.com",
            "password": "changsha-demo-2026",
            "csrf_token": CSRF.search(page).group(1),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    return session


class Traffic(threading.Thread):
    """Reads (web and API) and writes (API tokens through the profile form) in a loop."""

    def __init__(self, base: str, session: requests.Session) -> None:
        super().__init__(daemon=True)
        self.base, self.session = base, session
        self.answers: list[tuple[float, str, int, dict, str]] = []
        self.acknowledged: list[str] = []
        self.running = True

    def _record(self, kind: str, response: requests.Response) -> None:
        self.answers.append(
            (time.monotonic(), kind, response.status_code, dict(response.headers), response.text)
        )

    def run(self) -> None:
        token = None
        while self.running:
            try:
                self._record("web", self.session.get(f"{self.base}/projects", timeout=15))
                self._record("api", self.session.get(f"{self.base}/api/v1/projects", timeout=15))
                page = self.session.get(f"{self.base}/profile", timeout=15)
                self._record("web", page)
                found = CSRF.search(page.text)
                token = found.group(1) if found else token
                if token:
                    marker = f"restart-{uuid.uuid4().hex[:12]}"
                    response = self.session.post(
                        f"{self.base}/profile/tokens",
                        data={"tok-name": marker, "tok-csrf_token": token},
                        timeout=15,
                    )
                    self._record("write", response)
                    # Acknowledged: the profile page it leads to shows the new token.
                    if response.status_code == 200 and 'data-testid="new-token"' in response.text:
                        self.acknowledged.append(marker)
            except requests.RequestException as exc:  # the app itself must stay up
                self.answers.append((time.monotonic(), "connection", 0, {}, str(exc)))
            time.sleep(0.05)


def test_postgres_restart_while_serving(postgres_app):
    base, database_url, cluster = postgres_app
    traffic = Traffic(base, _logged_in(base))
    traffic.start()
    time.sleep(2)
    outage_started = time.monotonic()
    _pg_ctl("stop", cluster)
    try:
        time.sleep(OUTAGE_SECONDS)
    finally:
        _pg_ctl("start", cluster)
    back = time.monotonic()
    # The app recovers by itself: a healthy answer again without touching gunicorn.
    recovered = None
    while time.monotonic() - back < RECOVERY_SECONDS:
        if any(t > back and status == 200 for t, _k, status, _h, _b in traffic.answers[-5:]):
            recovered = time.monotonic() - back
            break
        time.sleep(0.2)
    time.sleep(1)
    traffic.running = False
    traffic.join(timeout=30)

    statuses = [status for _t, _k, status, _h, _b in traffic.answers]
    assert recovered is not None, f"no 200 within {RECOVERY_SECONDS} s of the restart"
    during = [a for a in traffic.answers if outage_started < a[0] < back]
    assert any(status == 503 for _t, _k, status, _h, _b in during), (
        "no request was answered during the outage: the test did not see it"
    )
    problems = []
    for _t, kind, status, headers, body in traffic.answers:
        if status not in (200, 302, 503):
            problems.append(f"{kind}: {status} {body[:200]}")
        if "Traceback" in body or "psycopg" in body:
            problems.append(f"{kind}: {status} shows internals")
        if status == 503:
            if int(headers.get("Retry-After", "0")) <= 0:
                problems.append(f"{kind}: 503 without Retry-After")
            wanted = "application/problem+json" if kind == "api" else "text/html"
            if not headers.get("Content-Type", "").startswith(wanted):
                problems.append(f"{kind}: 503 as {headers.get('Content-Type')}")
    assert not problems, "\n".join(problems[:20])
    assert 0 not in statuses, "gunicorn stopped answering"

    # No acknowledged write was lost.
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = set(conn.execute(text("SELECT name FROM api_token")).scalars())
    engine.dispose()
    assert traffic.acknowledged
    missing = [m for m in traffic.acknowledged if m not in stored]
    assert not missing, missing
