"""Policy pages: everyone signed in reads policies; only administrators change them.

A change is always a whole policy file (uploaded, or edited in the browser): validated
(errors with line, column and the lines around them), previewed (what changes), then
applied as a new version. Old versions stay readable.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from crm.enums import Role
from crm.extensions import db
from crm.incentives import store
from crm.incentives.blueprint import bp
from crm.incentives.policies import PolicyIssue, PolicyLoadError
from crm.incentives.services import zones
from crm.security import roles_required

CONTEXT_LINES = 2
MAX_VERSION = 1_000_000  # beyond any real history; keeps the number within an INTEGER


def _issue_view(issue: PolicyIssue, lines: list[str]) -> dict[str, Any]:
    """An issue with the source lines around it (the offending one marked)."""
    excerpt = []
    if issue.line is not None and lines:
        first = max(1, issue.line - CONTEXT_LINES)
        last = min(len(lines), issue.line + CONTEXT_LINES)
        excerpt = [(n, lines[n - 1], n == issue.line) for n in range(first, last + 1)]
    return {
        "line": issue.line,
        "column": issue.column,
        "path": issue.path,
        "message": issue.message,
        "text": str(issue),
        "excerpt": excerpt,
    }


def _file_name(value: str | None) -> str:
    """The last part of a file name, printable characters only, at most 200."""
    name = (value or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable())[:200]


def _submitted_text() -> tuple[str, str, str, str | None]:
    """(text, file name, origin, decoding error) from the upload form.

    A chosen file wins over the textarea. Line endings are normalised to LF.
    """
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        data = upload.stream.read(store.MAX_SOURCE_CHARS * 4 + 1)
        name = _file_name(upload.filename) or "policy.yaml"
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return "", name, "upload", _("The file is not UTF-8 text; is it a YAML policy file?")
        origin = "upload"
    else:
        text = request.form.get("text", "")
        name = _file_name(request.form.get("file_name")) or "editor.yaml"
        origin = request.form.get("origin") if request.form.get("origin") in store.ORIGINS else None
        origin = origin or "editor"
    return text.replace("\r\n", "\n").replace("\r", "\n"), name, origin, None


@bp.get("/incentives/policies")
@login_required
def policy_list() -> Any:
    """Every policy: validity, zones covered, measures, current version, versions."""
    policies = store.current_policies(db.session)
    return render_template(
        "incentives/policies.html",
        summaries=store.policy_summaries(db.session),
        broken=policies.broken,
        zones=zones(db.session),
    )


@bp.get("/incentives/policies/<code>")
@login_required
def policy_detail(code: str) -> Any:
    """One policy (?version=N for an older version) with its measures and history."""
    stored = store.find_policy(db.session, code) or abort(404)
    number = request.args.get("version", type=int) or stored.current_version
    if not 1 <= number <= MAX_VERSION:
        abort(404)
    version = store.find_version(db.session, stored, number) or abort(404)
    try:
        policy, problem = store.compiled_version(db.session, version), None
    except PolicyLoadError as error:
        policy, problem = None, str(error)
    covered = [
        zone
        for zone in zones(db.session)
        if zone.code in version.covers or zone.level in version.covers
    ]
    return render_template(
        "incentives/policy.html",
        stored=stored,
        version=version,
        policy=policy,
        problem=problem,
        covered=covered,
        history=store.versions_of(db.session, stored),
        is_admin=current_user.role == Role.ADMIN,
    )


@bp.get("/incentives/policies/upload")
@roles_required(Role.ADMIN)
def policy_upload() -> Any:
    """The upload form; ?policy=CODE opens the current text in the browser editor."""
    text, file_name = "", ""
    code = request.args.get("policy")
    if code:
        stored = store.find_policy(db.session, code) or abort(404)
        version = store.find_version(db.session, stored, stored.current_version)
        assert version is not None
        text, file_name = version.source_text, version.file_name or f"{code}.yaml"
    return render_template(
        "incentives/upload.html", text=text, file_name=file_name, note="", issues=[]
    )


@bp.post("/incentives/policies/upload")
@roles_required(Role.ADMIN)
def policy_preview() -> Any:
    """Validate the file (or edited text) and show what applying it would change."""
    text, file_name, origin, problem = _submitted_text()
    note = request.form.get("note", "")[:2000]
    if problem or not text.strip():
        issue = PolicyIssue(file_name, problem or _("Choose a file or paste the policy text."))
        issues = [_issue_view(issue, [])]
        return render_template(
            "incentives/upload.html", text=text, file_name=file_name, note=note, issues=issues
        ), 422
    try:
        preview = store.preview_upload(db.session, text, file_name)
    except PolicyLoadError as error:
        lines = text.split("\n")
        issues = [_issue_view(issue, lines) for issue in error.issues]
        return render_template(
            "incentives/upload.html", text=text, file_name=file_name, note=note, issues=issues
        ), 422
    return render_template(
        "incentives/preview.html",
        preview=preview,
        text=text,
        file_name=file_name,
        origin=origin,
        note=note,
        stale=None,
    )


@bp.post("/incentives/policies/apply")
@roles_required(Role.ADMIN)
def policy_apply() -> Any:
    """Save the previewed text as a new version (checked again; refused if stale)."""
    text, file_name, origin, _problem = _submitted_text()
    note = request.form.get("note", "")[:2000]
    base = request.form.get("base_version", type=int)
    if base is not None and not 0 <= base <= MAX_VERSION:
        base = -1  # cannot match: refused as stale
    try:
        preview = store.preview_upload(db.session, text, file_name)
        version = store.save_version(
            db.session,
            text,
            file_name=file_name,
            origin=origin,
            user_id=current_user.id,
            note=note,
            expected_current=base,
            preview=preview,
        )
    except PolicyLoadError as error:
        issues = [_issue_view(issue, text.split("\n")) for issue in error.issues]
        return render_template(
            "incentives/upload.html", text=text, file_name=file_name, note=note, issues=issues
        ), 422
    except store.StalePolicyVersion as stale:
        return render_template(
            "incentives/preview.html",
            preview=preview,
            text=text,
            file_name=file_name,
            origin=origin,
            note=note,
            stale=stale.current,
        ), 409
    except IntegrityError:
        db.session.rollback()
        flash(_("Another version was saved at the same time; preview the file again."), "danger")
        return redirect(url_for("incentives.policy_upload"))
    if version is None:
        flash(_("The file changes nothing in the policy; no version was added."), "info")
        return redirect(url_for("incentives.policy_detail", code=preview.policy.id))
    db.session.commit()
    code = preview.policy.id
    message = _("Version %(number)d of %(policy)s saved.", number=version.number, policy=code)
    flash(message, "success")
    return redirect(url_for("incentives.policy_detail", code=code))
