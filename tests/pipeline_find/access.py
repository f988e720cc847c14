"""Access rules of the finding routes: list extras, board, search, companies, Top-500 lists.

Companies are visible to every signed-in user; leaders change nothing; only administrators
merge companies and manage Top-500 lists. A saved filter is its owner's alone (404 for
anyone else, as for one that does not exist). The project list itself is declared in
tests/pipeline/access.py. For endpoints answering GET and POST the GET is declared here;
tests/pipeline_find/test_companies.py checks the POSTs by role.
"""

from crm.extensions import db
from crm.pipeline.list_models import SavedFilter
from crm.pipeline.top500_models import Top500List
from tests import factories
from tests.security.matrix import Rule, admin_only_web, api, web


def extend_context(ctx):
    # A saved filter of the officer and one of the other team's officer.
    saved = {
        prefix: SavedFilter(user_id=ctx[f"{prefix}officer_id"], name="m", query="stage=lead")
        for prefix in ("", "other_")
    }
    lst = Top500List(list_code="fortune_global_500", year=1999, entry_count=0)
    db.session.add_all([*saved.values(), lst])
    merge_source = factories.company("矩阵甲科技有限公司")
    merge_target = factories.company("矩阵乙科技有限公司")
    db.session.flush()
    for prefix, row in saved.items():
        ctx[f"{prefix}saved_filter_id"] = row.id
    ctx["top500_list_id"] = lst.id
    ctx["merge_source_id"] = merge_source.id
    ctx["merge_target_id"] = merge_target.id


def writers_web():
    return web(leader=403)


def writers_api():
    return api(leader=403)


RULES = {
    "pipeline.project_export": Rule("GET", lambda c: "/projects/export.xlsx?stage=lead", web()),
    "pipeline.saved_filter_save": Rule(
        "POST",
        lambda c: "/projects/filters",
        web(),
        data=lambda c: {"name": "mine", "query": "stage=signed&key=1"},
    ),
    "pipeline.saved_filter_delete": Rule(
        "GET",
        lambda c: f"/projects/filters/{c['saved_filter_id']}/delete",
        web(404, officer="ok"),
    ),
    "pipeline.board_page": Rule("GET", lambda c: "/board", web()),
    "pipeline.board_column": Rule("GET", lambda c: "/board/lead/cards?start=0", web()),
    "pipeline.search": Rule("GET", lambda c: "/search?q=xm", web()),
    "pipeline.company_list": Rule("GET", lambda c: "/companies?q=ce", web()),
    "pipeline.company_detail": Rule("GET", lambda c: f"/companies/{c['company_id']}", web()),
    "pipeline.company_new": Rule("GET", lambda c: "/companies/new", writers_web()),
    "pipeline.company_edit": Rule(
        "GET", lambda c: f"/companies/{c['company_id']}/edit", writers_web()
    ),
    "pipeline.company_merge": Rule(
        "GET", lambda c: f"/companies/{c['merge_source_id']}/merge", admin_only_web()
    ),
    "pipeline.company_merge_confirm": Rule(
        "GET",
        lambda c: f"/companies/{c['merge_source_id']}/merge/{c['merge_target_id']}",
        admin_only_web(),
    ),
    "pipeline.top500_lists": Rule("GET", lambda c: "/admin/top500", admin_only_web()),
    "pipeline.top500_upload": Rule(
        "POST", lambda c: "/admin/top500", admin_only_web(), data=lambda c: {"year": "2022"}
    ),
    "pipeline.top500_review": Rule(
        "GET", lambda c: f"/admin/top500/{c['top500_list_id']}", admin_only_web()
    ),
    "pipeline.top500_confirm": Rule(
        "POST", lambda c: f"/admin/top500/{c['top500_list_id']}", admin_only_web()
    ),
    "api.search": Rule("GET", lambda c: "/api/v1/search?q=xm", api()),
    "api.list_companies": Rule("GET", lambda c: "/api/v1/companies?q=ce", api()),
    "api.get_company": Rule("GET", lambda c: f"/api/v1/companies/{c['company_id']}", api()),
    "api.create_company": Rule(
        "POST",
        lambda c: "/api/v1/companies",
        writers_api(),
        json=lambda c: {"name": "矩阵新建科技有限公司"},
    ),
    "api.update_company": Rule(
        "PATCH",
        lambda c: f"/api/v1/companies/{c['company_id']}",
        writers_api(),
        json=lambda c: {"hq_city": "长沙"},
    ),
}
