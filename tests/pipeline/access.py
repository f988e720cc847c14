"""Access rules of the project routes (see tests/security/matrix.py).

`project_id` belongs to the officer's and the lead's team; `other_officer` is in another
team and must get 404, exactly as for a project that does not exist.
"""

from tests.security.matrix import Rule, api, web

RULES = {
    "pipeline.project_list": Rule("GET", lambda c: "/projects", web()),
    "pipeline.project_detail": Rule(
        "GET", lambda c: f"/projects/{c['project_id']}", web(other_officer=404)
    ),
    "api.list_projects": Rule("GET", lambda c: "/api/v1/projects", api()),
    "api.get_project": Rule(
        "GET", lambda c: f"/api/v1/projects/{c['project_id']}", api(other_officer=404)
    ),
}
