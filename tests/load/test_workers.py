"""Behaviour that only shows with several processes: gunicorn with two workers."""

from __future__ import annotations

import re

import pytest
import requests

from benchmarks.load import free_port, start_gunicorn, stop

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def server(small_database, tmp_path):
    port = free_port()
    process = start_gunicorn(small_database, tmp_path / "instance", port, 2, tmp_path / "log")
    yield f"http://127.0.0.1:{port}"
    stop(process)


def _attempt(base: str, email: str, password: str) -> requests.Response:
    session = requests.Session()  # a new connection each time: either worker may answer
    page = session.get(f"{base}/login", timeout=30).text
    return session.post(
        f"{base}/login",
        data={"email": email, "password": password, "csrf_token": CSRF.search(page).group(1)},
        allow_redirects=False,
        timeout=30,
    )


def test_login_throttling_holds_across_workers(server):
    """Failures counted in memory would be split between the two processes (either may
    answer a new connection); counted in the database, the 11th attempt is refused."""
    email = "officer.wangcheng@example.com"
    for i in range(10):
        response = _attempt(server, email, f"wrong-password-{i}")
        assert response.status_code == 200
    response = _attempt(server, email, "changsha-demo-2026")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
