"""The route table: one list that both registers handlers and documents them in OpenAPI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from hearing_server import keys
from hearing_server.auth.limits import LoginLimits
from hearing_server.schema import Schema

from . import (
    agreements,
    board,
    evidence,
    identity,
    jobs,
    metrics,
    node,
    recordings,
    scheduling,
    schemas,
    serving,
    slots,
    timestamps,
    transcripts,
    views,
)
from .limits import login_limited
from .openapi import build_openapi

# "court": staff, or a participant's join token within what the permission table allows them
# "metrics": the metrics token (Prometheus), nothing else
Auth = Literal["none", "staff", "admin", "join", "court", "metrics"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    auth: Auth
    body: Schema | None = None
    status: int = 200
    media_type: str = "application/json"  # of the success response
    error_media_type: str = "application/json"  # a page's errors are pages too
    # other documented answers than success and the JSON error: (status, description, schema)
    responses: tuple[tuple[int, str, dict[str, Any]], ...] = ()
    # checks or issues a secret: behind the login rate limits (docs/operations.md)
    login: bool = False


def _evidence_routes() -> tuple[Route, ...]:
    """The exhibit bundle, for a participant (their own hearing) and for staff (any)."""
    table: tuple[tuple[str, str, Handler, str, Schema | None, int], ...] = (
        ("GET", "", evidence.bundle, "The exhibits I may see, with the opinions", None, 200),
        ("POST", "/uploads", evidence.begin_upload, "Announce an exhibit upload",
         evidence.UPLOAD_CREATE, 201),
        ("GET", "/uploads/{upload_id}", evidence.upload_state,
         "How much of my upload has arrived (resume from there)", None, 200),
        ("PATCH", "/uploads/{upload_id}", evidence.append,
         "The next bytes of my upload, from Upload-Offset", None, 200),
        ("DELETE", "/uploads/{upload_id}", evidence.cancel_upload, "Abandon my upload", None,
         204),
        ("POST", "/uploads/{upload_id}/complete", evidence.complete_upload,
         "Seal my complete upload as an exhibit", evidence.UPLOAD_COMPLETE, 201),
        ("GET", "/{exhibit_id}/file", evidence.download,
         "An exhibit's sealed file, its SHA-256 in Repr-Digest and X-Content-SHA256", None,
         200),
        ("POST", "/{exhibit_id}/ticket", evidence.ticket,
         "A 10-minute link to stream an audio or video exhibit (ranges)", None, 200),
        ("GET", "/{exhibit_id}/pages/{page}", evidence.page,
         "A page of a PDF or image exhibit as JPEG (?width=)", None, 200),
        ("POST", "/{exhibit_id}/release", evidence.release,
         "Show a side's exhibit to the other side (court)", None, 200),
        ("POST", "/{exhibit_id}/opinions", evidence.record_opinion,
         "Record a side's opinion on an exhibit (court)", evidence.OPINION, 201),
    )  # fmt: skip
    routes: list[Route] = []
    for method, tail, handler, summary, body, status in table:
        routes.append(Route(method, f"/api/me/evidence{tail}", handler, summary, "join", body,
                            status))  # fmt: skip
        routes.append(Route(method, f"/api/hearings/{{hearing_id}}/evidence{tail}", handler,
                            f"{summary} (staff)", "staff", body, status))  # fmt: skip
    routes.append(
        Route(
            "GET",
            "/api/evidence-files/{ticket}",
            evidence.stream,
            "An exhibit's file by a streaming ticket (ranges)",
            "none",
        )
    )
    routes.append(
        Route(
            "GET",
            "/api/hearings/{hearing_id}/evidence-verification",
            evidence.verify,
            "Check the bundle: the audit chain, every file against its sealed hash",
            "staff",
        )
    )
    return tuple(routes)


_NOT_READY: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": ["unavailable", "draining"]},
        "reason": {"type": "string"},
        "schema_version": {"type": "integer"},
    },
}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", views.healthz, "Liveness probe", "none"),
    Route(
        "GET",
        "/readyz",
        views.readyz,
        "Readiness probe (store reachable; 503 while this node drains)",
        "none",
        responses=((503, "not ready: the store unreachable, or this node draining", _NOT_READY),),
    ),
    Route(
        "GET", "/api/node", node.node_status, "This node, its hearings and every live node", "admin"
    ),
    Route(
        "POST",
        "/api/node/drain",
        node.drain,
        "Drain this node: no new hearings; the ones served here stay until idle",
        "admin",
    ),
    Route(
        "POST",
        "/api/staff-tokens",
        views.create_staff_token,
        "Issue a staff token",
        "admin",
        schemas.STAFF_TOKEN_CREATE,
        201,
        login=True,
    ),
    Route(
        "POST",
        "/api/hearings",
        views.create_hearing,
        "Create a hearing",
        "staff",
        schemas.HEARING_CREATE,
        201,
    ),
    Route("GET", "/api/hearings", views.list_hearings, "List hearings", "staff"),
    Route(
        "POST",
        "/api/hearings/{hearing_id}/documents",
        serving.add_document,
        "Store a PDF to serve (the body is the PDF; ?kind=summons|agreement|transcript|upload"
        "&title=)",
        "staff",
        status=201,
    ),
    Route(
        "POST",
        "/api/hearings/{hearing_id}/documents/{document_id}/service",
        serving.serve,
        "Serve a document by SMS and e-mail: {recipients: [{name, phone?, email?}]}",
        "staff",
        status=201,
    ),
    Route(
        "POST",
        "/api/hearings/{hearing_id}/service/{kind}",
        serving.serve_record,
        "Serve the hearing's signed mediation agreement or finalised transcript, taken from "
        "where it is kept (kind: agreement|transcript): {recipients, title?}",
        "staff",
        status=201,
    ),
    Route(
        "POST",
        "/api/hearings/{hearing_id}/documents/{document_id}/manual-service",
        serving.record_manual,
        "Record service by phone or post: {recipient, channel, note}",
        "staff",
        status=201,
    ),
    Route(
        "GET",
        "/api/hearings/{hearing_id}/service",
        serving.status,
        "Service status: each served document and its deliveries",
        "staff",
    ),
    Route(
        "GET",
        "/api/hearings/{hearing_id}/service/{delivery_id}/receipt",
        serving.receipt,
        "The service receipt (送达回证) of one delivery, sealed (PDF)",
        "staff",
    ),
    Route(
        "GET",
        "/api/service/follow-up",
        serving.follow_up,
        "Deliveries to follow up by phone (failed, or not opened in time)",
        "staff",
    ),
    Route(
        "POST",
        "/api/service/callbacks",
        serving.callback,
        "The SMS gateway's delivery report (X-Signature: sha256=HMAC of the body)",
        "none",
    ),
    Route(
        "GET",
        "/s/{token}",
        serving.tracking_page,
        "A recipient's tracking page",
        "none",
        login=True,
        error_media_type="text/html",
    ),
    Route(
        "POST",
        "/s/{token}/confirm",
        serving.tracking_confirm,
        "The recipient confirms receipt",
        "none",
        login=True,
        error_media_type="text/html",
    ),
    Route(
        "GET",
        "/s/{token}/calendar.ics",
        serving.tracking_calendar,
        "The hearing's calendar file (.ics), through the recipient's link",
        "none",
        login=True,
        error_media_type="text/html",
    ),
    Route(
        "GET",
        "/s/{token}/document",
        serving.tracking_document,
        "The served document (PDF), through the recipient's link",
        "none",
        login=True,
        error_media_type="text/html",
    ),
    Route(
        "POST",
        "/api/hearings/{hearing_id}/schedule",
        scheduling.schedule,
        "Book a hearing: {start, end | duration_minutes, courtroom?, people: [{role, name, "
        "id?, time_zone?}], override_reason?}; 409 schedule_conflict lists the clashes",
        "staff",
        status=201,
    ),
    Route(
        "GET",
        "/api/hearings/{hearing_id}/schedule",
        scheduling.get_schedule,
        "A hearing's booking",
        "staff",
    ),
    Route(
        "POST",
        "/api/hearings/{hearing_id}/schedule/reschedule",
        scheduling.reschedule,
        "Move a booked hearing (time and/or courtroom) for a reason; the served are told",
        "staff",
        scheduling.RESCHEDULE,
    ),
    Route(
        "POST",
        "/api/hearings/{hearing_id}/schedule/cancel",
        scheduling.cancel,
        "Cancel a hearing that has not begun, for a reason; the served are told",
        "staff",
        scheduling.CANCEL,
    ),
    Route(
        "GET",
        "/api/schedule",
        scheduling.calendar,
        "The court's calendar: bookings overlapping ?from=&to= with their clashes",
        "staff",
    ),
    Route(
        "GET",
        "/api/schedule/courtrooms",
        scheduling.courtrooms,
        "The court's courtrooms and time zone",
        "staff",
    ),
    Route(
        "POST",
        "/api/schedule/windows",
        slots.publish_windows,
        "Publish a mediator's windows: {mediator: {name, id?}, windows: [{start, end}]}",
        "staff",
        status=201,
    ),
    Route(
        "GET",
        "/api/schedule/windows",
        slots.list_windows,
        "Mediators' windows overlapping ?from=&to= (&mediator=&mediator_id=)",
        "staff",
    ),
    Route(
        "POST",
        "/api/hearings/{hearing_id}/slot-links",
        slots.issue_slot_link,
        "A party's link to pick the mediation's slot: {mediator, party: {name, id?, phone?, "
        "email?, time_zone?, participant_id?}, minutes, courtroom?}",
        "staff",
        status=201,
        login=True,
    ),
    Route("GET", "/api/pick/{token}", slots.offer, "A slot link's free slots", "none", login=True),
    Route(
        "POST",
        "/api/pick/{token}",
        slots.pick,
        "Pick a slot: {start}; books the mediation and serves its notice on the party",
        "none",
        status=201,
        login=True,
    ),
    Route(
        "POST",
        "/api/hearings/{hearing_id}/summons",
        slots.serve_summons,
        "Generate the summons or notice of mediation (PDF, with the recipient's join link) and "
        "serve it: {recipient: {name, phone?, email?, participant_id?, time_zone?}, lang?}",
        "staff",
        status=201,
    ),
    Route(
        "GET",
        "/api/jobs",
        jobs.list_jobs,
        "The job queue: counts by state, the runner's health, jobs (?state=&kind=&limit=)",
        "admin",
    ),
    Route("GET", "/api/hearings/{hearing_id}", views.get_hearing, "Read a hearing", "staff"),
    Route(
        "PATCH",
        "/api/hearings/{hearing_id}",
        views.update_hearing,
        "Update a hearing",
        "staff",
        schemas.HEARING_UPDATE,
    ),
    Route(
        "POST",
        "/api/hearings/{hearing_id}/transitions",
        views.staff_transition,
        "Open or close a hearing (staff)",
        "staff",
        schemas.TRANSITION,
    ),
    Route(
        "POST",
        "/api/hearings/{hearing_id}/participants",
        views.add_participant,
        "Add a participant",
        "staff",
        schemas.PARTICIPANT_CREATE,
        201,
    ),
    Route(
        "GET",
        "/api/hearings/{hearing_id}/participants",
        views.list_participants,
        "List participants",
        "staff",
    ),
    Route(
        "GET",
        "/api/hearings/{hearing_id}/audit",
        views.audit_log,
        "Read and verify the audit log",
        "staff",
    ),
    Route(
        "POST",
        "/api/participants/{participant_id}/links",
        views.issue_link,
        "Issue a join link",
        "staff",
        schemas.LINK_CREATE,
        201,
        login=True,
    ),
    Route(
        "POST",
        "/api/links/revoke",
        views.revoke_link,
        "Revoke a join link",
        "staff",
        schemas.LINK_REVOKE,
    ),
    Route("GET", "/api/me", views.me, "A participant's view of their hearing", "join"),
    Route(
        "GET",
        "/api/hearings/{hearing_id}/recordings",
        recordings.staff_list,
        "List a hearing's recordings",
        "staff",
    ),
    Route(
        "GET",
        "/api/hearings/{hearing_id}/recordings/{recording_id}/files/{file:.+}",
        recordings.staff_download,
        "Download a recording file (segment, manifest, signature, public key)",
        "staff",
    ),
    Route(
        "GET",
        "/api/me/recordings",
        recordings.my_list,
        "List my hearing's recordings (judge, clerk, mediator)",
        "join",
    ),
    Route(
        "GET",
        "/api/me/recordings/{recording_id}/files/{file:.+}",
        recordings.my_download,
        "Download a recording file (judge, clerk, mediator)",
        "join",
    ),
    Route(
        "GET",
        "/api/me/transcript/{fmt}",
        transcripts.my_export,
        "My hearing's transcript as json, vtt, srt or pdf (judge, clerk, mediator)",
        "join",
    ),
    Route(
        "POST",
        "/api/me/transcript/corrections",
        transcripts.my_correct,
        "Correct a transcript segment (clerk); the original is kept",
        "join",
        transcripts.CORRECTION,
    ),
    Route(
        "POST",
        "/api/me/transcript/finalise",
        transcripts.my_finalise,
        "Mark the transcript final (judge, after the hearing closed)",
        "join",
    ),
    Route(
        "GET",
        "/api/hearings/{hearing_id}/transcript/{fmt}",
        transcripts.staff_export,
        "A hearing's transcript as json, vtt, srt or pdf",
        "staff",
    ),
    Route(
        "GET",
        "/api/recordings/public-key",
        recordings.public_key,
        "The Ed25519 public key that signs recording manifests",
        "none",
    ),
    Route(
        "PUT",
        "/api/participants/{participant_id}/registration",
        identity.put_registration,
        "Register who a participant is on the case (name, ID, phone); the ID number is kept "
        "only as a keyed hash (staff; the judge or clerk of the participant's hearing)",
        "court",
        identity.REGISTRATION,
    ),
    Route(
        "GET",
        "/api/participants/{participant_id}/registration",
        identity.get_registration,
        "Read a participant's registration (the ID number by its last 4 characters)",
        "court",
    ),
    Route(
        "PUT",
        "/api/participants/{participant_id}/reference-photo",
        identity.put_reference_photo,
        "Store a participant's reference photo for the face match (the body is the JPEG or "
        "PNG, 5 MB at most, exactly one face); deleted after the hearing closes",
        "court",
    ),
    Route(
        "GET",
        "/api/hearings/{hearing_id}/identity-policy",
        identity.get_policy,
        "The identity steps each role must pass in this hearing",
        "staff",
    ),
    Route(
        "PUT",
        "/api/hearings/{hearing_id}/identity-policy",
        identity.put_policy,
        "Change the identity steps each role must pass",
        "staff",
        identity.POLICY,
    ),
    Route(
        "GET",
        "/api/hearings/{hearing_id}/identity",
        identity.hearing_overview,
        "Every participant's identity check",
        "staff",
    ),
    Route("GET", "/api/me/identity", identity.my_identity, "My identity check", "join"),
    Route(
        "POST",
        "/api/me/self-test",
        board.my_self_test,
        "My device self-test (a failure alerts the clerk's board)",
        "join",
        board.SELF_TEST,
    ),
    Route(
        "POST",
        "/api/me/help",
        board.my_help,
        "Ask the clerk for help: alerts the board and the staff's consoles",
        "join",
        board.HELP_REQUEST,
    ),
    Route("GET", "/api/board", board.board, "The clerk's board: today's hearings, alerts", "staff"),
    Route(
        "POST",
        "/api/board/alerts/{alert_id}/ack",
        board.acknowledge_alert,
        "Acknowledge an alert on the clerk's board",
        "staff",
    ),
    Route(
        "POST",
        "/api/me/identity/id-number",
        identity.my_id_number,
        "The ID step: my legal name and ID number",
        "join",
        identity.ID_CHECK,
        login=True,
    ),
    Route(
        "POST",
        "/api/me/identity/code/send",
        identity.my_code_send,
        "Send me a one-time code (60 s between two)",
        "join",
        login=True,
    ),
    Route(
        "POST",
        "/api/me/identity/code",
        identity.my_code,
        "The code step: the one-time code I received",
        "join",
        identity.CODE_ENTRY,
        login=True,
    ),
    Route(
        "POST",
        "/api/me/identity/face/start",
        identity.my_face_start,
        "Start the camera check (face match and liveness) on my published video: the "
        "challenges to show, in order",
        "join",
    ),
    Route(
        "POST",
        "/api/me/identity/help",
        identity.my_help,
        "Ask the clerk for help with the identity check",
        "join",
    ),
    Route(
        "GET",
        "/api/me/outbox",
        identity.my_outbox,
        "Outbox messages to the people on my hearing (those who verify identity)",
        "join",
    ),
    Route(
        "GET",
        "/api/me/agreement",
        agreements.my_agreement,
        "My mediation's agreement (a draft only for the mediator)",
        "join",
    ),
    Route(
        "PUT",
        "/api/me/agreement/draft",
        agreements.my_draft,
        "Save a new draft version (mediator): {language, recitals[], terms[], payment?, "
        "costs, agreed_on}",
        "join",
    ),
    Route(
        "POST",
        "/api/me/agreement/propose",
        agreements.my_propose,
        "Propose the draft to the parties (mediator)",
        "join",
    ),
    Route(
        "POST",
        "/api/me/agreement/back-to-draft",
        agreements.my_back_to_draft,
        "Take a proposal back to edit it (mediator)",
        "join",
    ),
    Route(
        "POST",
        "/api/me/agreement/accept",
        agreements.my_accept,
        "Accept the proposal I read (party)",
        "join",
        agreements.ACCEPT,
    ),
    Route(
        "POST",
        "/api/me/agreement/request-changes",
        agreements.my_request_changes,
        "Ask for changes to the proposal (party)",
        "join",
        agreements.CHANGES,
    ),
    Route(
        "POST",
        "/api/me/agreement/open-signing",
        agreements.my_open_signing,
        "Render the accepted agreement and open signing (mediator)",
        "join",
    ),
    Route(
        "POST",
        "/api/me/agreement/sign-code",
        agreements.my_sign_code,
        "Send me a code to confirm my signature (party)",
        "join",
    ),
    Route(
        "POST",
        "/api/me/agreement/sign",
        agreements.my_sign,
        "Sign the agreement: my drawn signature and the code (party)",
        "join",
        agreements.SIGN,
    ),
    Route(
        "POST",
        "/api/me/agreement/seal",
        agreements.my_seal,
        "Seal the signed agreement for the mediation organisation (mediator)",
        "join",
    ),
    Route(
        "POST",
        "/api/me/agreement/confirmation",
        agreements.my_confirmation,
        "Request judicial confirmation of the sealed agreement (mediator)",
        "join",
    ),
    Route(
        "POST",
        "/api/me/agreement/no-agreement",
        agreements.my_no_agreement,
        "End the mediation without agreement, with the reason (mediator)",
        "join",
        agreements.NO_AGREEMENT,
    ),
    Route(
        "GET",
        "/api/me/agreement/pdf",
        agreements.my_pdf,
        "The agreement's latest PDF revision (signed and sealed as far as it got)",
        "join",
    ),
    Route(
        "POST",
        "/api/timestamp",
        timestamps.timestamp,
        "RFC 3161 timestamp authority (application/timestamp-query in, -reply out)",
        "none",
    ),
    Route(
        "GET",
        "/api/me/agreement/confirmation.pdf",
        agreements.my_confirmation_pdf,
        "The application for judicial confirmation (司法确认申请书), once requested",
        "join",
    ),
    Route(
        "GET",
        "/api/hearings/{hearing_id}/agreement",
        agreements.staff_agreement,
        "A mediation's agreement",
        "staff",
    ),
    Route(
        "GET",
        "/api/hearings/{hearing_id}/agreement/pdf",
        agreements.staff_pdf,
        "A mediation's agreement as its latest PDF revision",
        "staff",
    ),
    Route(
        "POST",
        "/api/me/hearing/transitions",
        views.participant_transition,
        "Change the hearing state (presiding judge)",
        "join",
        schemas.TRANSITION,
    ),
    Route(
        "GET",
        "/metrics",
        metrics.metrics,
        "Prometheus metrics (text exposition format; OpenMetrics if the Accept header asks)",
        "metrics",
        media_type="text/plain",
    ),
    *_evidence_routes(),
)


def _login_limits(request: web.Request) -> LoginLimits:
    return request.app[keys.LOGIN_LIMITS]


def setup_routes(app: web.Application) -> None:
    """Register every route and the OpenAPI document."""
    for r in ROUTES:
        handler = login_limited(r.handler, _login_limits) if r.login else r.handler
        app.router.add_route(r.method, r.path, handler)
    spec = build_openapi(ROUTES)

    async def openapi(_: web.Request) -> web.Response:
        return web.json_response(spec)

    app.router.add_get("/api/openapi.json", openapi)
