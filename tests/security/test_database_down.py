"""A database that cannot be reached answers 503 with a retry hint, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import make_app

DEAD_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/unreachable?connect_timeout=2"


@pytest.fixture
def dead_app(tmp_path):
    return make_app(DEAD_DATABASE, tmp_path / "instance")


def _logged_in_client(app):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "1.1"
        session["_fresh"] = True
    return client


def _assert_503_page(response):
    body = response.get_data(as_text=True)
    assert response.status_code == 503, body[:500]
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in body and "psycopg" not in body


@pytest.mark.parametrize("url", ["/", "/projects", "/profile", "/admin/users", "/reference/"])
def test_pages_of_a_logged_in_user(dead_app, url):
    response = _logged_in_client(dead_app).get(url)
    _assert_503_page(response)
    assert response.mimetype == "text/html"


def test_login_post(dead_app):
    client = dead_app.test_client()
    dead_app.config["WTF_CSRF_ENABLED"] = False
    response = client.post("/login", data={"email": "a@example.com", "password": "whatever-pw"})
    _assert_503_page(response)


@pytest.mark.parametrize("url", ["/api/v1/me", "/api/v1/projects", "/api/v1/zones"])
def test_api_answers_problem_json(dead_app, url):
    response = dead_app.test_client().get(url, headers={"Authorization": "Bearer crm_x"})
    _assert_503_page(response)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 503


def test_health_check(dead_app):
    _assert_503_page(dead_app.test_client().get("/healthz"))
