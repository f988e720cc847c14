"""Access rules of the foundation's routes (see tests/security/matrix.py)."""

from tests.security.matrix import Rule, admin_only_web, api, web

RULES = {
    "main.home": Rule("GET", lambda c: "/", web()),
    "main.healthz": Rule(
        "GET",
        lambda c: "/healthz",
        {a: 200 for a in ("anonymous", "officer", "other_officer", "lead", "leader", "admin")},
    ),
    "accounts.login": Rule(
        "GET",
        lambda c: "/login",
        {
            "anonymous": 200,
            "officer": 302,
            "other_officer": 302,
            "lead": 302,
            "leader": 302,
            "admin": 302,
        },
    ),
    "accounts.logout": Rule("POST", lambda c: "/logout", web(302, anonymous=302)),
    "accounts.profile": Rule("GET", lambda c: "/profile", web()),
    "accounts.change_password": Rule("POST", lambda c: "/profile/password", web()),
    "accounts.change_language": Rule("POST", lambda c: "/profile/language", web()),
    "accounts.switch_language": Rule("POST", lambda c: "/language/en", web(302, anonymous=302)),
    "accounts.create_token": Rule("POST", lambda c: "/profile/tokens", web()),
    "accounts.revoke_token": Rule(
        "POST", lambda c: f"/profile/tokens/{c['admin_token_id']}/revoke", web(404, admin="ok")
    ),
    "accounts.users": Rule("GET", lambda c: "/admin/users", admin_only_web()),
    "accounts.user_new": Rule("GET", lambda c: "/admin/users/new", admin_only_web()),
    "accounts.user_edit": Rule(
        "GET", lambda c: f"/admin/users/{c['officer_id']}", admin_only_web()
    ),
    "accounts.user_set_active": Rule(
        "POST",
        lambda c: f"/admin/users/{c['officer_id']}/active",
        admin_only_web(),
        data=lambda c: {"active": "1"},
    ),
    "accounts.teams": Rule("GET", lambda c: "/admin/teams", admin_only_web()),
    "accounts.team_edit": Rule("GET", lambda c: f"/admin/teams/{c['team_id']}", admin_only_web()),
    "accounts.login_code": Rule(
        "GET",
        lambda c: "/login/code",
        web(302, anonymous="login"),
        notes="without a password step first, back to the login page",
    ),
    "accounts.two_factor": Rule("GET", lambda c: "/profile/2fa", web()),
    "accounts.two_factor_setup": Rule("POST", lambda c: "/profile/2fa/setup", web()),
    "accounts.two_factor_confirm": Rule(
        "POST", lambda c: "/profile/2fa/confirm", web(), data=lambda c: {"otp-code": "12"}
    ),
    "accounts.two_factor_disable": Rule(
        "POST", lambda c: "/profile/2fa/disable", web(), data=lambda c: {"off-password": "x"}
    ),
    "accounts.two_factor_recovery_codes": Rule(
        "POST", lambda c: "/profile/2fa/recovery-codes", web()
    ),
    "accounts.security_settings": Rule("GET", lambda c: "/admin/security", admin_only_web()),
    "reference.index": Rule("GET", lambda c: "/reference/", web()),
    "api.me": Rule("GET", lambda c: "/api/v1/me", api()),
    "api.list_chains": Rule("GET", lambda c: "/api/v1/chains", api()),
    "api.list_zones": Rule("GET", lambda c: "/api/v1/zones", api()),
    "api.list_regions": Rule("GET", lambda c: "/api/v1/regions", api()),
    "api.list_teams": Rule("GET", lambda c: "/api/v1/teams", api()),
    "api.openapi_document": Rule(
        "GET",
        lambda c: "/api/v1/openapi.json",
        {a: 200 for a in ("anonymous", "officer", "other_officer", "lead", "leader", "admin")},
    ),
}
