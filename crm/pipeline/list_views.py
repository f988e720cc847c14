"""The project list: filters, sorting, pages, saved filters and the xlsx export."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from crm.enums import ALL_STAGES, TOP500_LISTS, InvestorTag
from crm.extensions import db
from crm.pipeline import list_queries, listing
from crm.pipeline.blueprint import bp
from crm.pipeline.list_models import SavedFilter
from crm.pipeline.saved_filters import (
    SavedFilterError,
    delete_saved_filter,
    save_filter,
    saved_filters,
)
from crm.reminders.rules import RULE_CODES

PER_PAGE = 50
IN_MEMORY_EXPORT_BYTES = 16 * 1024 * 1024
MAX_PAGE = 100_000


def read_list_request(
    args: MultiDict[str, str],
) -> tuple[listing.ProjectFilter, listing.ListSort, listing.FilterOptions, list[listing.Problem]]:
    """The filter and sort of a list, board or export request, with any problems found."""
    options = listing.load_filter_options(db.session, current_user)
    found, problems = listing.parse_filter(args, options)
    sort, sort_problems = listing.parse_sort(args)
    found = list_queries.prepare_filter(db.session, found)
    return found, sort, options, problems + sort_problems


def filter_template_context(
    found: listing.ProjectFilter, options: listing.FilterOptions
) -> dict[str, Any]:
    """What the filter form (templates/pipeline/_filters.html) needs."""
    return {
        "f": found,
        "options": options,
        "stages": ALL_STAGES,
        "stalled_rule_choices": RULE_CODES,
        "tag_choices": [listing.TOP500_ANY, *(t.value for t in InvestorTag)],
        "top500_lists": [t.value for t in TOP500_LISTS],
    }


@bp.get("/projects")
@login_required
def project_list() -> Any:
    found, sort, options, problems = read_list_request(request.args)
    page = request.args.get("page", 1, type=int) or 1  # out-of-range pages get a message
    if not 1 <= page <= MAX_PAGE:
        problems.append(("page", _("Not a page number.")))
        page = 1
    result = list_queries.list_page(
        db.session,
        current_user,
        found,
        sort,
        page=page,
        per_page=PER_PAGE,
        today=listing.local_today(),
    )
    filter_args = found.args()
    list_url = url_for("pipeline.project_list")
    sort_links = {}
    for key in listing.SORT_KEYS:
        if key == sort.key:
            target = listing.ListSort(key, not sort.descending)
            state = "descending" if sort.descending else "ascending"
        else:
            target = listing.parse_sort({"sort": key})[0]
            state = "none"
        sort_links[key] = (f"{list_url}?{listing.query_string(filter_args, target.args())}", state)
    return render_template(
        "pipeline/list.html",
        result=result,
        sort=sort,
        sort_links=sort_links,
        problems=problems,
        filter_args=filter_args,
        query=listing.query_string(filter_args, sort.args()),
        saved=saved_filters(db.session, current_user.id),
        stalls=list_queries.stalled_badges(db.session, [r.id for r in result.rows]),
        **filter_template_context(found, options),
    )


@bp.post("/projects/filters")
@login_required
def saved_filter_save() -> Any:
    """Save the current filter (and sort) under a name; the same name replaces it."""
    found, _problems = listing.parse_filter(MultiDict(_query_args()))
    sort, _sort_problems = listing.parse_sort(MultiDict(_query_args()))
    query = listing.query_string(found.args(), sort.args())
    try:
        saved = save_filter(db.session, current_user.id, request.form.get("name", ""), query)
    except SavedFilterError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("pipeline.project_list") + (f"?{query}" if query else ""))
    db.session.commit()
    flash(_("Filter “%(name)s” saved.", name=saved.name), "success")
    return redirect(url_for("pipeline.project_list") + (f"?{query}" if query else ""))


def _query_args() -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(request.form.get("query", "")[:4000])


def _own_filter(filter_id: int) -> SavedFilter:
    saved = db.session.scalar(
        select(SavedFilter).where(
            SavedFilter.id == filter_id, SavedFilter.user_id == current_user.id
        )
    )
    if saved is None:
        abort(404)
    return saved


@bp.route("/projects/filters/<int:filter_id>/delete", methods=["GET", "POST"])
@login_required
def saved_filter_delete(filter_id: int) -> Any:
    """Confirm, then delete one of the user's saved filters."""
    saved = _own_filter(filter_id)
    if request.method == "GET":
        return render_template("pipeline/saved_filter_delete.html", saved=saved)
    name = saved.name
    delete_saved_filter(db.session, saved)
    db.session.commit()
    flash(_("Filter “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("pipeline.project_list"))


@bp.app_template_global()
def id_url_prefix(endpoint: str, name: str) -> str:
    """`url_for(endpoint, <name>=id)` without the id, for rows to append theirs: one
    url_for per page instead of one per row."""
    url = url_for(endpoint, **{name: 0})
    if not url.endswith("/0"):
        raise ValueError(f"{endpoint}: the id is not at the end of {url}")
    return url[:-1]


@bp.app_template_global()
def investor_tag_label(tag: object) -> str:
    from crm.pipeline.find_labels import investor_tag_label as label

    return label(tag)


@bp.app_template_global()
def sort_label(key: str) -> str:
    from crm.pipeline.find_labels import SORT_LABELS

    return str(SORT_LABELS.get(key, key))


@bp.app_template_global()
def ownership_label(value: object) -> str:
    from crm.pipeline.find_labels import ownership_label as label

    return label(value)


@bp.get("/projects/export.xlsx")
@login_required
def project_export() -> Any:
    """The filtered list as an xlsx download (every matching row, in the list's order)."""
    import io
    import tempfile
    from zoneinfo import ZoneInfo

    from flask import current_app, send_file

    from crm.i18n import is_english
    from crm.pipeline.export import write_projects_xlsx

    found, sort, _options, problems = read_list_request(request.args)
    if problems:
        # The list shows what is wrong with the filter; nothing half-filtered is exported.
        query = request.query_string.decode("utf-8", "replace")
        return redirect(url_for("pipeline.project_list") + (f"?{query}" if query else ""))
    today = listing.local_today()
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed below or with the response
    try:
        write_projects_xlsx(
            db.session,
            current_user,
            found,
            sort,
            target=spool,
            today=today,
            english=is_english(),
            tz=ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai"),
        )
        size = spool.tell()
        spool.seek(0)
        if size <= IN_MEMORY_EXPORT_BYTES:
            # Small files are sent from memory; the temporary file is gone at once.
            body: Any = io.BytesIO(spool.read())
            spool.close()
        else:
            body = spool  # streamed from disk in chunks; closed when the response is
    except BaseException:
        spool.close()
        raise
    return send_file(
        body,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"projects-{today.isoformat()}.xlsx",
        max_age=0,
    )
