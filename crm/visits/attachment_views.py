"""Uploading, downloading and deleting attachments in the web UI."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template_string,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from crm.extensions import db
from crm.security import write_required
from crm.visits import attachments as service
from crm.visits.access import attachment_parent_visible, can_change_parent, parent_visible
from crm.visits.blueprint import bp
from crm.visits.event_models import Attachment
from crm.visits.other_forms import AttachmentForm
from crm.visits.web import as_int, now_utc

__all__ = ["bp", "parent_url", "read_upload", "send_attachment"]


def parent_url(kind: str, parent_id: int) -> str:
    if kind == "project":
        return url_for("pipeline.project_detail", project_id=parent_id) + "#panel-visits"
    if kind == "visit":
        return url_for("visits.visit_detail", visit_id=parent_id)
    return url_for("visits.event_detail", event_id=parent_id)


# A refused upload is answered with its status (413, 422, 503, 507...) and the reason, not
# a redirect that would look like a success to the browser and to scripts.
_REFUSED_PAGE = """{% extends "base.html" %}
{% block title %}{{ status }}{% endblock %}
{% block content %}
<div class="py-4">
  <a class="btn btn-primary" href="{{ back }}">{{ _("Back") }}</a>
</div>
{% endblock %}"""


def _back_url() -> str:
    kind, parent_id = request.args.get("parent", ""), as_int(request.args.get("parent_id"))
    if kind in service.PARENTS and parent_id:
        return parent_url(kind, parent_id)
    return url_for("main.home")


def refused(message: object, status: int) -> Any:
    """The page shown for a refused upload: the reason as an error alert, with `status`."""
    flash(str(message), "danger")
    return render_template_string(_REFUSED_PAGE, status=status, back=_back_url()), status


def max_bytes() -> int:
    return int(current_app.config["CRM_MAX_UPLOAD_MB"]) * 1024 * 1024


def read_upload(field: str = "file") -> tuple[str | None, bytes]:
    """The uploaded file's name and bytes (at most the limit plus one byte is read).

    Raises UploadError for a request larger than the server accepts.
    """
    try:
        upload = request.files.get(field)
    except RequestEntityTooLarge as exc:
        raise service.UploadError(
            _(
                "The file is too large: at most %(mb)d MB is allowed.",
                mb=current_app.config["CRM_MAX_UPLOAD_MB"],
            ),
            413,
        ) from exc
    if upload is None or not upload.filename:
        return None, b""
    try:
        return upload.filename, upload.stream.read(max_bytes() + 1)
    finally:
        upload.close()  # large uploads are spooled to a temporary file


def store(user: Any, kind: str, parent_id: int, filename: str | None, data: bytes) -> Attachment:
    """Store and commit; the stored file is removed again if the commit fails."""
    upload_dir = current_app.config["CRM_UPLOAD_DIR"]
    attachment = service.store_attachment(
        db.session,
        upload_dir=upload_dir,
        max_bytes=max_bytes(),
        user=user,
        parent=kind,
        parent_id=parent_id,
        filename=filename,
        data=data,
    )
    try:
        db.session.commit()
    except Exception:
        service.discard_file(upload_dir, attachment)
        raise
    return attachment


@bp.post("/attachments")
@write_required
def attachment_upload() -> Any:
    try:
        filename, data = read_upload()
    except service.UploadError as exc:
        return refused(exc, exc.status)
    form = AttachmentForm()
    kind, parent_id = form.parent.data or "", as_int(form.parent_id.data)
    if kind not in service.PARENTS or parent_id is None:
        abort(404)
    if not parent_visible(db.session, current_user, kind, parent_id):
        abort(404)
    if not can_change_parent(db.session, current_user, kind, parent_id):
        abort(403)
    if not form.validate_on_submit():
        abort(400)
    try:
        attachment = store(current_user, kind, parent_id, filename, data)
    except service.UploadError as exc:
        db.session.rollback()
        return refused(exc, exc.status)
    flash(_("File attached: %(name)s", name=attachment.filename), "success")
    return redirect(parent_url(kind, parent_id))


def visible_attachment(attachment_id: int) -> Attachment:
    """The attachment if its parent is visible to the current user; 404 otherwise."""
    attachment = db.session.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.deleted_at.is_(None))
    )
    if attachment is None or not attachment_parent_visible(db.session, current_user, attachment):
        abort(404)
    return attachment


def content_disposition(filename: str) -> str:
    """`attachment` with the name as ASCII and, for other names, RFC 6266 `filename*`."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = fallback.replace("\\", "_").replace('"', "_").strip() or "download"
    if fallback == filename:
        return f'attachment; filename="{fallback}"'
    quoted = quote(filename, safe="!#$&+^`|~")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quoted}"


def send_attachment(attachment: Attachment) -> Any:
    """Stream the file as a download. The file is opened only when the body is read and is
    closed when the response is closed, even half-read."""
    path = service.stored_path(current_app.config["CRM_UPLOAD_DIR"], attachment)
    if not path.is_file():
        abort(404)

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(64 * 1024):
                yield chunk

    response = Response(chunks(), mimetype=attachment.content_type, direct_passthrough=True)
    response.headers["Content-Length"] = str(path.stat().st_size)
    response.headers["Content-Disposition"] = content_disposition(attachment.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment_download(attachment_id: int) -> Any:
    return send_attachment(visible_attachment(attachment_id))


@bp.post("/attachments/<int:attachment_id>/delete")
@write_required
def attachment_delete(attachment_id: int) -> Any:
    attachment = visible_attachment(attachment_id)
    kind, parent_id = attachment.parent
    if not can_change_parent(db.session, current_user, kind, parent_id):
        abort(403)
    service.delete_attachment(db.session, attachment, user_id=current_user.id, now=now_utc())
    db.session.commit()
    flash(_("File removed: %(name)s", name=attachment.filename), "info")
    return redirect(parent_url(kind, parent_id))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    """A request over the server's limit is refused before the view runs (the size check
    in `crm.security` or CSRF reading the form): a 413 that says why."""
    message = _(
        "The file is too large: at most %(mb)d MB is allowed.",
        mb=current_app.config["CRM_MAX_UPLOAD_MB"],
    )
    return refused(message, 413)
