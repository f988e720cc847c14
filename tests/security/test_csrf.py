"""Every state-changing request of the web UI (and of the API when a browser session calls
it) needs the CSRF token: without it, with a forged one, or with another session's, the
answer is 400 and nothing changes. The routes come from the URL map, so a new form is
covered as soon as it exists."""

from __future__ import annotations

from tests.conftest import login
from tests.security.matrix import (
    RULES,
    UNSAFE_METHODS,
    database_fingerprint,
    is_api,
    log_in_as,
    route_keys,
)


def _unsafe_routes(app, api: bool) -> list[tuple[str, str]]:
    return sorted(
        (endpoint, method)
        for endpoint, method in route_keys(app)
        if method in UNSAFE_METHODS and is_api(endpoint) == api
    )


def _payload(endpoint: str, method: str, ctx: dict) -> dict:
    rule = RULES[endpoint]
    if rule.method == method and rule.data is not None:
        return rule.data(ctx)
    return {}


def test_web_forms_refuse_requests_without_a_valid_token(app, make_client, context):
    admin = context["users"]["admin"]
    stranger = make_client()
    foreign_token = stranger.csrf_token()  # valid, but for another session
    routes = _unsafe_routes(app, api=False)
    assert ("accounts.logout", "POST") in routes and ("accounts.login", "POST") in routes
    problems = []
    client = make_client()
    login(client, admin.email)
    for endpoint, method in routes:
        url = RULES[endpoint].url(context)
        for token in (None, "forged-token", foreign_token):
            data = _payload(endpoint, method, context)
            data.pop("csrf_token", None)
            if token:
                data["csrf_token"] = token
            before = database_fingerprint()
            response = client.open(url, method=method, data=data)
            label = f"{method} {url} ({endpoint}) with token={token and token[:8]!r}"
            if response.status_code != 400:
                problems.append(f"{label}: {response.status_code}, expected 400")
            if database_fingerprint() != before:
                problems.append(f"{label}: changed data")
            if client.get("/profile").status_code != 200:
                problems.append(f"{label}: the session did not survive (it should be untouched)")
    assert not problems, "\n".join(problems)


def test_the_api_needs_the_token_when_a_browser_session_calls_it(app, make_client, context):
    """Bearer tokens are not ambient credentials; a session cookie is, so unsafe API calls
    made with the cookie need the CSRF token like a form."""
    admin = context["users"]["admin"]
    routes = _unsafe_routes(app, api=True)
    problems = []
    sessions: dict = {}
    for endpoint, method in routes:
        rule = RULES[endpoint]
        client = make_client()  # each call from a new browser holding the admin's session
        log_in_as(client, "admin", context, sessions)
        payload = rule.json(context) if rule.json and rule.method == method else {}
        before = database_fingerprint()
        response = client.open(rule.url(context), method=method, json=payload)
        if response.status_code != 400 or response.mimetype != "application/problem+json":
            problems.append(f"{method} {endpoint}: {response.status_code} {response.mimetype}")
        if database_fingerprint() != before:
            problems.append(f"{method} {endpoint}: changed data")
    assert not problems, "\n".join(problems)
    # The rule itself, on a read-only endpoint: GET needs no token, a session works.
    client = make_client()
    login(client, admin.email)
    assert client.get("/api/v1/me").status_code == 200


def test_a_form_with_the_right_token_does_go_through(make_client, context):
    """The opposite check, so the refusals above are not an artefact of the test client."""
    client = make_client()
    login(client, context["users"]["admin"].email)
    before = database_fingerprint()
    response = client.form("/profile/tokens", {"tok-name": "made with a token"})
    assert response.status_code == 302
    assert database_fingerprint() != before
