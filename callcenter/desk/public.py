"""``/submit``: the public web form where citizens send a request (网络来件) without signing in.

It is public by nature, so it is guarded otherwise: a CSRF cookie, a per-address rate limit,
attachment type and size limits, and length limits on every field. The order it creates waits
in the agents' work list like a voicemail.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from klein import Klein
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.formparser import parse_form_data

from callcenter.auth.roles import Perm
from callcenter.auth.services import Actor
from callcenter.desk import attachments as att
from callcenter.desk import schemas
from callcenter.desk.base import WebBase
from callcenter.desk.http import PUBLIC, HttpError, anon_csrf, arg, check_anon_csrf, client_address, guard
from callcenter.intake import quota

log = logging.getLogger(__name__)

PUBLIC_ACTOR = Actor(0, "public", "public", "网络来件")
FIELDS = ("caller_name", "contact", "district", "address", "title", "content")


def _uploads(request: Any, limit: int) -> list[att.Upload]:
    """Files of a multipart request (werkzeug's parser; twisted.web keeps only the values)."""
    ctype = (request.getHeader(b"content-type") or b"").decode("latin-1")
    if not ctype.startswith("multipart/form-data"):
        return []
    request.content.seek(0)
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": ctype,
               "CONTENT_LENGTH": str(len(request.content.getvalue()) if hasattr(request.content, "getvalue")
                                     else request.getHeader(b"content-length").decode()),
               "wsgi.input": request.content}
    _stream, _form, files = parse_form_data(environ, max_content_length=limit)
    out = []
    for storage in files.getlist("attachments"):
        assert isinstance(storage, FileStorage)
        if storage.filename:
            out.append(att.Upload(storage.filename, storage.read()))
    return out


class PublicWeb(WebBase):
    app = Klein()
    @app.handle_errors(NotFound, MethodNotAllowed)
    def routing_error_handler(self, request: Any, failure: Any) -> bytes:
        return self.routing_error(request, failure)

    @app.route("/", methods=["GET"])
    @guard(PUBLIC)
    async def form(self, request: Any) -> bytes:
        return self.render(request, "submit.html", anon_csrf=anon_csrf(request), values={}, message="",
                           limits=self.desk.settings.workorders)

    @app.route("/", methods=["POST"])
    @guard(PUBLIC)
    async def submit(self, request: Any) -> bytes:
        check_anon_csrf(request)
        if not self.desk.limiter.allow("submit:" + client_address(request)):
            raise HttpError(429, "too_many_submissions")
        values = {k: arg(request, k).strip() for k in FIELDS}
        t = self.context(request)["_"]
        settings = self.desk.settings.workorders
        problem = ""
        try:  # strict text of the right length, a district of the city
            values.update(schemas.form(request, schemas.PublicForm, districts=settings.districts))
        except HttpError as exc:
            problem = t.refusal(exc)
        if not problem and not values["content"]:
            problem = t("submit.need_content")
        elif not problem and not values["contact"]:
            problem = t("submit.need_contact")
        checked: list[Any] = []
        if not problem:
            try:
                checked = att.check(_uploads(request, self.desk.settings.max_body_bytes), settings)
            except att.AttachmentRefused as exc:
                problem = t.refusal(exc)
        if problem:
            return self.render(request, "submit.html", 422, anon_csrf=anon_csrf(request), values=values,
                               message=problem, limits=settings)
        directory = Path(self.desk.config.data_path) / "attachments"
        fields = {**values, "caller_number": values["contact"] if values["contact"].isascii() and
                  values["contact"].isdigit() else ""}
        address, day = client_address(request), datetime.now(self.zone).date().isoformat()
        files, size = len(checked), sum(len(upload.data) for upload, _ctype in checked)

        def work(session: Any) -> str:
            # Bounded storage for strangers: checked before anything is written (same transaction).
            quota.check(session, settings_uploads, day, address, files, size)
            order = self.desk.orders.create(session, PUBLIC_ACTOR, "online", fields)
            for upload, ctype in checked:
                self.desk.orders.add_attachment(session, PUBLIC_ACTOR, order, att.store(directory, upload, ctype))
            quota.record(session, day, address, order.id, files, size)
            return order.number

        settings_uploads = self.desk.settings.public_uploads
        try:
            number = await self.desk.db.run_session(work)
        except quota.UploadsRefused as exc:
            log.info("public submission from %s refused: %s", address, exc.msg_id)
            return self.render(request, "submit.html", exc.code, anon_csrf=anon_csrf(request), values=values,
                               message=t.refusal(exc), limits=settings)
        self.desk.hub.to_perm(Perm.DESK, "worklist", {"new": number})
        return self.render(request, "submit_done.html", 201, number=number)
