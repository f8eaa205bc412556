"""Electronic service over HTTP: the clerk's endpoints (staff), the SMS gateway's signed
delivery callbacks, and the recipient's tracking page (the link's token is the only key)."""

from __future__ import annotations

import html
import json
from typing import Any

from aiohttp import web

from hearing_server.core.errors import NotFound
from hearing_server.core.serving_texts import PAGE
from hearing_server.keys import SERVED_RECORDS, SERVING, STORE
from hearing_server.service.serving import (
    CallbackRefused,
    LinkExpired,
    TrackingView,
    delivery_json,
    document_json,
    parse_recipients,
)
from hearing_server.service.serving_notices import both_times

from .auth import staff_actor
from .errors import ApiError

_CHUNK = 64 * 1024
# The link's token is in the URL: never sent on as a referrer, never cached; the page has no
# script at all.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body must be JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body


async def add_document(request: web.Request) -> web.Response:
    """The body is the PDF itself; ``kind`` and ``title`` are query parameters. Read in
    chunks against the serving limit (documents are larger than the API's JSON limit)."""
    actor = await staff_actor(request)
    service = request.app[SERVING]
    limit = service.max_document_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "too_large", f"the document is over the limit of {limit} bytes")
    data = bytearray()
    async for chunk in request.content.iter_chunked(_CHUNK):
        data.extend(chunk)
        if len(data) > limit:
            raise ApiError(413, "too_large", f"the document is over the limit of {limit} bytes")
    doc = await service.add_document(
        actor,
        request.match_info["hearing_id"],
        kind=request.query.get("kind", "upload"),
        title=request.query.get("title", ""),
        data=bytes(data),
    )
    return web.json_response(document_json(doc), status=201)


async def serve(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    body = await _json_object(request)
    recipients = parse_recipients(body.get("recipients"))
    deliveries = await request.app[SERVING].serve(
        actor, request.match_info["hearing_id"], request.match_info["document_id"], recipients
    )
    return web.json_response({"deliveries": [delivery_json(d) for d in deliveries]}, status=201)


async def serve_record(request: web.Request) -> web.Response:
    """``kind`` is ``agreement`` or ``transcript``: the hearing's own record, taken from where
    it is kept and served; the body is ``{recipients, title?}``."""
    actor = await staff_actor(request)
    body = await _json_object(request)
    recipients = parse_recipients(body.get("recipients"))
    title = body.get("title")
    if title is not None and not isinstance(title, str):
        raise ApiError(422, "invalid_value", "title must be text")
    doc, deliveries = await request.app[SERVED_RECORDS].serve(
        actor,
        request.match_info["hearing_id"],
        request.match_info["kind"],
        recipients,
        title=title,
    )
    return web.json_response(
        {"document": document_json(doc), "deliveries": [delivery_json(d) for d in deliveries]},
        status=201,
    )


async def record_manual(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    body = await _json_object(request)
    fields = {k: body.get(k) for k in ("recipient", "channel", "note")}
    for key, value in fields.items():
        if not isinstance(value, str):
            raise ApiError(422, "invalid_value", f"{key} is required (text)")
    delivery = await request.app[SERVING].record_manual(
        actor,
        request.match_info["hearing_id"],
        request.match_info["document_id"],
        recipient=str(fields["recipient"]),
        channel=str(fields["channel"]),
        note=str(fields["note"]),
    )
    return web.json_response(delivery_json(delivery), status=201)


async def status(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    documents = await request.app[SERVING].status(actor, request.match_info["hearing_id"])
    return web.json_response({"documents": documents})


async def receipt(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    delivery_id = request.match_info["delivery_id"]
    pdf = await request.app[SERVING].receipt(actor, request.match_info["hearing_id"], delivery_id)
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="receipt-{delivery_id}.pdf"'},
    )


async def follow_up(request: web.Request) -> web.Response:
    actor = await staff_actor(request)
    deliveries = await request.app[SERVING].follow_up(actor)
    cases: dict[str, str] = {}
    for d in deliveries:  # the clerk calls about a case: name it by its number
        if d.hearing_id not in cases:
            cases[d.hearing_id] = (await request.app[STORE].get_hearing(d.hearing_id)).case_number
    return web.json_response(
        {
            "deliveries": [
                {**delivery_json(d, True), "hearing_id": d.hearing_id,
                 "case_number": cases[d.hearing_id]}
                for d in deliveries
            ]
        }
    )  # fmt: skip


async def callback(request: web.Request) -> web.Response:
    """The gateway's report: ``{"key": <the message's key>, "status": "delivered" |
    "failed", "reason"?}``, signed: ``X-Signature: sha256=<HMAC-SHA256 of the body>``."""
    service = request.app[SERVING]
    raw = await request.read()
    try:
        service.check_callback(raw, request.headers.get("X-Signature"))
    except CallbackRefused as exc:
        raise ApiError(401, "bad_signature", exc.message) from None
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body must be JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("key"), str):
        raise ApiError(422, "invalid_value", "the callback needs a key")
    reason = body.get("reason")
    delivery = await service.on_callback(
        body["key"], str(body.get("status")), reason if isinstance(reason, str) else None
    )
    return web.json_response({"id": delivery.id, "status": delivery.status.value})


# -- the recipient's page ---------------------------------------------------------------------


def _language(request: web.Request) -> str:
    wanted = request.query.get("lang") or request.headers.get("Accept-Language") or "zh-CN"
    return "en" if wanted.lower().startswith("en") else "zh-CN"


def _page(lang: str, body: str, status: int = 200) -> web.Response:
    words = PAGE[lang]
    text = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(words['title'])}</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:1em auto;padding:0 1em}"
        "dt{color:#555}dd{margin:0 0 .6em 0;overflow-wrap:anywhere}"
        "button{font-size:1.2em;padding:.5em 1em}</style>"
        f"</head><body><h1>{html.escape(words['title'])}</h1>{body}</body></html>"
    )
    return web.Response(text=text, content_type="text/html", status=status, headers=_PAGE_HEADERS)


def _view_html(view: TrackingView, token: str, lang: str, zone: Any) -> str:
    words = PAGE[lang]
    d, doc, hearing = view.delivery, view.document, view.hearing

    def row(label: str, value: str, ident: str = "") -> str:
        attr = f' id="{ident}"' if ident else ""
        return f"<dt>{html.escape(words[label])}</dt><dd{attr}>{html.escape(value)}</dd>"

    rows = "".join(
        [
            row("court", hearing.court),
            row("case", hearing.case_number),
            row("document", doc.title, "document-title"),
            row("served_on", d.recipient),
            row("sha256", doc.sha256),
        ]
    )
    until = d.expires_at.astimezone(zone) if d.expires_at else None
    if until is not None:
        rows += row("valid_until", f"{until:%Y-%m-%d %H:%M} ({view.time_zone})")
    start = both_times(hearing.scheduled_start, view.time_zone, d.time_zone)
    rows += row("hearing_at", start, "hearing-at")
    link = (
        f'<p><a id="open-document" href="/s/{token}/document">{words["open_document"]}</a></p>'
        f'<p><a id="calendar" href="/s/{token}/calendar.ics">{words["calendar"]}</a></p>'
    )
    if d.confirmed_at is not None:
        at = d.confirmed_at.astimezone(zone)
        action = (
            f'<p id="confirmed">{html.escape(words["confirmed"])}</p>'
            f"<p>{html.escape(words['confirmed_at'])}: "
            f"{at:%Y-%m-%d %H:%M:%S} ({view.time_zone})</p>"
        )
    else:
        action = (
            f'<form method="post" action="/s/{token}/confirm?lang={lang}">'
            f'<button id="confirm" type="submit">{html.escape(words["confirm"])}</button></form>'
        )
    return f"<dl>{rows}</dl>{link}{action}"


async def tracking_page(request: web.Request) -> web.Response:
    lang = _language(request)
    token = request.match_info["token"]
    service = request.app[SERVING]
    try:
        view = await service.open(token)
    except LinkExpired:
        return _page(lang, f'<p id="error">{PAGE[lang]["expired"]}</p>', 410)
    except NotFound:
        return _page(lang, f'<p id="error">{PAGE[lang]["not_found"]}</p>', 404)
    return _page(lang, _view_html(view, token, lang, service.zone))


async def tracking_confirm(request: web.Request) -> web.Response:
    lang = _language(request)
    token = request.match_info["token"]
    try:
        await request.app[SERVING].confirm(token)
    except LinkExpired:
        return _page(lang, f'<p id="error">{PAGE[lang]["expired"]}</p>', 410)
    except NotFound:
        return _page(lang, f'<p id="error">{PAGE[lang]["not_found"]}</p>', 404)
    raise web.HTTPSeeOther(f"/s/{token}?lang={lang}")


async def tracking_calendar(request: web.Request) -> web.Response:
    lang = _language(request)
    try:
        name, text = await request.app[SERVING].calendar_for(request.match_info["token"])
    except LinkExpired:
        return _page(lang, f'<p id="error">{PAGE[lang]["expired"]}</p>', 410)
    except NotFound:
        return _page(lang, f'<p id="error">{PAGE[lang]["not_found"]}</p>', 404)
    return web.Response(
        text=text,
        content_type="text/calendar",
        headers={**_PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


async def tracking_document(request: web.Request) -> web.Response:
    lang = _language(request)
    token = request.match_info["token"]
    try:
        doc, data = await request.app[SERVING].document_for(token)
    except LinkExpired:
        return _page(lang, f'<p id="error">{PAGE[lang]["expired"]}</p>', 410)
    except NotFound:
        return _page(lang, f'<p id="error">{PAGE[lang]["not_found"]}</p>', 404)
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={**_PAGE_HEADERS, "Content-Disposition": f'inline; filename="{doc.id}.pdf"'},
    )
