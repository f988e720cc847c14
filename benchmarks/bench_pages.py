"""Page and API budgets of the pipeline issue, measured on whatever routes the app has.

Budgets (p95 server time with 100,000 projects and 1,000,000 visits): project list of 50
rows <= 50 ms, kanban board <= 150 ms, project page <= 30 ms, search <= 50 ms (two Chinese
characters, and pinyin initials), dashboard <= 200 ms (reports issue). Pages whose route
does not exist yet are listed as skipped. The API list gets the list page's budget.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from benchmarks.harness import Context, Result

LIST_BUDGET_MS = 50
PAGE_BUDGET_MS = 30
BOARD_BUDGET_MS = 150
SEARCH_BUDGET_MS = 50
DASHBOARD_BUDGET_MS = 200
HOME_BUDGET_MS = 200  # no budget in the issues; the overview aggregates every project


def project_list(ctx: Context) -> list[Result]:
    results = [
        ctx.time_request(
            "project list, 50 rows (admin: all projects)",
            "/projects",
            role="admin",
            budget_ms=LIST_BUDGET_MS,
        ),
        ctx.time_request(
            "project list, 50 rows (officer: own team)",
            "/projects",
            role="officer",
            budget_ms=LIST_BUDGET_MS,
        ),
    ]
    filtered = _filtered_list_path(ctx)
    if filtered:
        results.append(
            ctx.time_request(
                "project list, filtered", filtered, role="admin", budget_ms=LIST_BUDGET_MS
            )
        )
    else:
        results.append(ctx.skip("project list, filtered", "no filter fields on the list yet"))
    results.append(
        ctx.time_request(
            "project list, page 100", "/projects?page=100", role="admin", budget_ms=LIST_BUDGET_MS
        )
    )
    return results


def _filtered_list_path(ctx: Context) -> str | None:
    """A filter on stage and chain, if the list page's form has those fields."""
    html = ctx.client("admin").get("/projects").get_data(as_text=True)
    fields = set(re.findall(r'<(?:input|select)[^>]*name="([^"]+)"', html))
    query = {}
    if "stage" in fields:
        query["stage"] = "signed"
    if "chain" in fields:
        query["chain"] = "automobile"
    if "key_only" in fields:
        query["key_only"] = "1"
    return f"/projects?{urlencode(query)}" if query else None


def project_page(ctx: Context) -> Result:
    ids = ctx.sample_projects(50)
    return ctx.time_request(
        "project page",
        [f"/projects/{pid}" for pid in ids],
        role="admin",
        budget_ms=PAGE_BUDGET_MS,
        note="50 projects, the most visited first",
    )


def api_lists(ctx: Context) -> list[Result]:
    ids = ctx.sample_projects(50)
    return [
        ctx.time_request(
            "API /projects, 50 per page",
            "/api/v1/projects?per_page=50",
            api=True,
            role="admin",
            budget_ms=LIST_BUDGET_MS,
            note="budget: the list page's",
        ),
        ctx.time_request(
            "API /projects/{id}",
            [f"/api/v1/projects/{pid}" for pid in ids],
            api=True,
            role="admin",
            budget_ms=PAGE_BUDGET_MS,
            note="budget: the project page's",
        ),
    ]


def kanban(ctx: Context) -> Result:
    found = ctx.endpoints("pipeline.board_page", "pipeline.*kanban*")
    if not found:
        return ctx.skip("kanban board", "no board route yet")
    return ctx.time_request(
        "kanban board", ctx.url_for(found[0]), role="admin", budget_ms=BOARD_BUDGET_MS
    )


def search(ctx: Context) -> list[Result]:
    from crm import nav

    endpoint = nav.SEARCH_ENDPOINT[0] if nav.SEARCH_ENDPOINT else None
    endpoint = endpoint or next(iter(ctx.endpoints("*.search*")), None)
    if not endpoint:
        return [ctx.skip("search", "no search route yet")]
    path = ctx.url_for(endpoint)
    return [
        ctx.time_request(
            "search, two Chinese characters",
            f"{path}?{urlencode({'q': '华芯'})}",
            role="admin",
            budget_ms=SEARCH_BUDGET_MS,
        ),
        ctx.time_request(
            "search, pinyin initials",
            f"{path}?{urlencode({'q': 'hxzk'})}",
            role="admin",
            budget_ms=SEARCH_BUDGET_MS,
        ),
    ]


def dashboard(ctx: Context) -> Result:
    found = ctx.endpoints("reports.*dashboard*")
    if not found:
        return ctx.skip("dashboard", "no dashboard route yet")
    return ctx.time_request(
        "dashboard", ctx.url_for(found[0]), role="leader", budget_ms=DASHBOARD_BUDGET_MS
    )


def overview(ctx: Context) -> Result:
    return ctx.time_request(
        "overview (home page)",
        "/",
        role="admin",
        budget_ms=HOME_BUDGET_MS,
        note="no budget in the issues; 200 ms set here",
    )


BENCHMARKS = [project_list, project_page, api_lists, kanban, search, dashboard, overview]
