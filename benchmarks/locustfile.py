"""Simulated bureau staff for the load test (run by benchmarks/load.py; usable alone too:
`locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000`).

Each simulated user logs in through the login form as one of the generated users, then
mixes reads (overview, project list and pages, the API), searches, and writes, with the
weights below. What it does adapts to the app it finds: searches when a search route is
on the page or in the OpenAPI document, visit logging when `POST /api/v1/visits` is
documented, stage changes when `POST /api/v1/projects/{id}/transitions` is, report
downloads when the report archive is. Request bodies are built from the issue's field
names, limited to what the OpenAPI document declares.

Each does only what its role may (a refusal would count as an error): an operation the
document restricts (`x-roles`) is left to the roles it names, writes go to projects the
user may change (its team's; any for the admin, none for a leader), and visits are logged
by members of a team only.

Every write the server acknowledges (2xx/3xx) is appended to the file named by
CRM_LOAD_ACKS with a unique marker, so load.py can check afterwards, one by one, that it
is in the database.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import uuid
from datetime import date
from typing import Any

from locust import HttpUser, between, events, task

USERS_FILE = os.environ.get("CRM_LOAD_USERS", "")
ACKS_FILE = os.environ.get("CRM_LOAD_ACKS", "")
TIMINGS_FILE = os.environ.get("CRM_LOAD_TIMINGS", "")
SETUP = "setup: "  # requests named so (logging in, discovering) are left out of the p95
_timings: list[float] = []
_lock = threading.Lock()
_counter = itertools.count()
_people: list[dict[str, str]] = []
_features: dict[str, Any] = {}

NEXT_STAGE = {"lead": "negotiating", "negotiating": "signed", "signed": "landed"}
SEARCH_WORDS = ("华芯", "中科", "储能", "hxzk", "desai", "新能源", "汽车")
# Any of the page's CSRF fields (forms with a prefix name theirs "<prefix>-csrf_token").
CSRF = re.compile(r'name="(?:[\w-]+-)?csrf_token"[^>]*value="([^"]+)"')


def acknowledge(kind: str, **facts: Any) -> None:
    if not ACKS_FILE:
        return
    line = json.dumps({"kind": kind, **facts}, ensure_ascii=False)
    with _lock, open(ACKS_FILE, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


_measuring = threading.Event()


@events.spawning_complete.add_listener
def _start_measuring(user_count: int, **_kwargs: Any) -> None:
    # Every simulated user has logged in (a deliberately slow password hash each): the
    # percentiles cover the steady state that follows.
    threading.Timer(2.0, _measuring.set).start()


@events.request.add_listener
def _record_timing(name: str, response_time: float, **_kwargs: Any) -> None:
    if _measuring.is_set() and not name.startswith(SETUP):
        _timings.append(response_time)


@events.test_stop.add_listener
def _write_timings(environment: Any, **_kwargs: Any) -> None:
    if TIMINGS_FILE:
        with open(TIMINGS_FILE, "w", encoding="utf-8") as handle:
            json.dump(_timings, handle)


@events.test_start.add_listener
def _load_people(environment: Any, **_kwargs: Any) -> None:
    if USERS_FILE:
        with open(USERS_FILE, encoding="utf-8") as handle:
            _people.extend(json.load(handle))


def _body_fields(document: dict[str, Any], path: str, method: str) -> tuple[set, set] | None:
    """(declared properties, required properties) of an operation's JSON body."""
    operation = document.get("paths", {}).get(path, {}).get(method)
    if not operation:
        return None
    schema = (
        operation.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
    )
    ref = schema.get("$ref", "")
    if ref:
        schema = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return set(schema.get("properties", {})), set(schema.get("required", []))


def _fit(body: dict[str, Any], fields: tuple[set, set] | None) -> dict[str, Any] | None:
    """The body limited to the declared fields; None when a required one is unknown."""
    if fields is None:
        return None
    declared, required = fields
    fitted = {k: v for k, v in body.items() if k in declared}
    return fitted if required <= set(fitted) else None


class BureauUser(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        person = _people[next(_counter) % len(_people)] if _people else None
        self.person = person
        self.headers = {"Authorization": f"Bearer {person['token']}"} if person else {}
        self.projects: list[dict[str, Any]] = []
        if person:
            page = self.client.get("/login", name=SETUP + "/login").text
            token = CSRF.search(page)
            self.client.post(
                "/login",
                data={
                    "email": person["email"],
                    "password": person["password"],
                    "csrf_token": token.group(1) if token else "",
                },
                name=SETUP + "/login [POST]",
            )
        self._discover()
        self._load_projects()

    def _discover(self) -> None:
        with _lock:
            if _features:
                return
            document = self.client.get("/api/v1/openapi.json", name=SETUP + "openapi").json()
            home = self.client.get("/", name=SETUP + "/").text
            search = re.search(r'<form[^>]*role="search"[^>]*action="([^"]+)"', home)
            _features.update(
                {
                    "document": document,
                    "web_search": search.group(1) if search else None,
                    "api_search": "/api/v1/search" in document.get("paths", {}),
                    "visits": _body_fields(document, "/api/v1/visits", "post"),
                    "transitions": _body_fields(
                        document, "/api/v1/projects/{project_id}/transitions", "post"
                    ),
                    "archive": "/api/v1/reports/archive" in document.get("paths", {}),
                }
            )

    def _load_projects(self) -> None:
        response = self.client.get(
            "/api/v1/projects?per_page=100", headers=self.headers, name=SETUP + "projects"
        )
        if response.ok:
            self.projects = response.json().get("items", [])

    def _project(self) -> dict[str, Any] | None:
        return random.choice(self.projects) if self.projects else None

    @property
    def role(self) -> str | None:
        return self.person.get("role") if self.person else None

    def _may(self, path: str, method: str = "get") -> bool:
        """Whether the document offers the operation to this user's role."""
        paths = _features.get("document", {}).get("paths", {})
        operation = paths.get(path, {}).get(method)
        if operation is None:
            return False
        roles = operation.get("x-roles")
        return roles is None or self.role in roles

    def _writable(self) -> list[dict[str, Any]]:
        """The loaded projects this user may change."""
        if self.role == "admin":
            return self.projects
        team = self.person.get("team") if self.person else None
        return [p for p in self.projects if team and p.get("team") == team]

    # --- reads -------------------------------------------------------------------------

    @task(3)
    def overview(self) -> None:
        self.client.get("/", name="/")

    @task(5)
    def project_list(self) -> None:
        page = random.choice((1, 1, 1, 2, 3, random.randint(1, 40)))
        self.client.get(f"/projects?page={page}", name="/projects?page=N")

    @task(5)
    def project_page(self) -> None:
        project = self._project()
        if project:
            self.client.get(f"/projects/{project['id']}", name="/projects/{id}")

    @task(3)
    def api_reads(self) -> None:
        project = self._project()
        self.client.get(
            f"/api/v1/projects?page={random.randint(1, 5)}&per_page=50",
            headers=self.headers,
            name="/api/v1/projects",
        )
        if project:
            self.client.get(
                f"/api/v1/projects/{project['id']}",
                headers=self.headers,
                name="/api/v1/projects/{id}",
            )

    @task(2)
    def search(self) -> None:
        word = random.choice(SEARCH_WORDS)
        if _features.get("web_search"):
            self.client.get(_features["web_search"], params={"q": word}, name="search (web)")
        if _features.get("api_search"):
            self.client.get(
                "/api/v1/search", params={"q": word}, headers=self.headers, name="search (API)"
            )

    @task(1)
    def reports(self) -> None:
        if not _features.get("archive") or not self._may("/api/v1/reports/archive"):
            return
        response = self.client.get(
            "/api/v1/reports/archive", headers=self.headers, name="/api/v1/reports/archive"
        )
        items = response.json().get("items", []) if response.ok else []
        links = [i.get("download_url") or i.get("url") for i in items if isinstance(i, dict)]
        links = [link for link in links if link]
        if links:
            self.client.get(links[0], headers=self.headers, name="report download")

    # --- writes ------------------------------------------------------------------------

    @task(1)
    def create_token(self) -> None:
        """A write every build has: an API token made through the profile form."""
        page = self.client.get("/profile", name="/profile").text
        token = CSRF.search(page)
        marker = f"load-{uuid.uuid4().hex[:16]}"
        with self.client.post(
            "/profile/tokens",
            data={"tok-name": marker, "tok-csrf_token": token.group(1) if token else ""},
            name="/profile/tokens [POST]",
            catch_response=True,
        ) as response:
            # The form answers with the profile page showing the new token once.
            if response.ok and 'data-testid="new-token"' in response.text:
                acknowledge("token", marker=marker)
                response.success()
            else:
                response.failure(f"token not created: {response.status_code}")

    @task(2)
    def log_visit(self) -> None:
        # Visits are logged by a team's members, on projects they may change.
        writable = self._writable() if self.person and self.person.get("team") else []
        if not writable or not _features.get("visits") or not self._may("/api/v1/visits", "post"):
            return
        project = random.choice(writable)
        marker = f"load-{uuid.uuid4().hex[:16]}"
        body = _fit(
            {
                "date": date.today().isoformat(),
                "type": "company_visit",
                "city": "深圳",
                "company_id": project["company_id"],
                "project_ids": [project["id"]],
                "purpose": marker,
                "outcome": "负载测试记录",
                "next_steps": "",
            },
            _features["visits"],
        )
        if body is None:
            return
        with self.client.post(
            "/api/v1/visits",
            json=body,
            headers=self.headers,
            name="/api/v1/visits [POST]",
            catch_response=True,
        ) as response:
            if response.ok:
                acknowledge("visit", marker=marker, project_id=project["id"])
                response.success()

    @task(1)
    def change_stage(self) -> None:
        candidates = [p for p in self._writable() if p.get("stage") in NEXT_STAGE]
        path = "/api/v1/projects/{project_id}/transitions"
        if not candidates or not _features.get("transitions") or not self._may(path, "post"):
            return
        project = random.choice(candidates)
        marker = f"load-{uuid.uuid4().hex[:16]}"
        body = _fit(
            {"to": NEXT_STAGE[project["stage"]], "date": date.today().isoformat(), "note": marker},
            _features["transitions"],
        )
        if body is None:
            return
        current = self.client.get(
            f"/api/v1/projects/{project['id']}", headers=self.headers, name="/api/v1/projects/{id}"
        )
        headers = dict(self.headers)
        if current.headers.get("ETag"):
            headers["If-Match"] = current.headers["ETag"]
        with self.client.post(
            f"/api/v1/projects/{project['id']}/transitions",
            json=body,
            headers=headers,
            name="/api/v1/projects/{id}/transitions [POST]",
            catch_response=True,
        ) as response:
            if response.ok:
                acknowledge("transition", marker=marker, project_id=project["id"])
                project["stage"] = body["to"]
                response.success()
            elif response.status_code in (409, 412, 422):
                # Someone else moved it first (409/412), or it is no longer at the stage
                # this user last saw, so that move is not allowed (422): right answers.
                response.success()
