"""create_app(): the one composition root. Nothing imports this module but the CLI and tests.

Each feature installs itself (``hearing_server.wiring``): it builds its objects from what the
features before it put on the app, stores its own under ``hearing_server.keys``, and registers
one ``cleanup_ctx`` entry per resource. aiohttp starts those entries in this order and closes
them in reverse, so a failed start still closes what started before it, and one failing close
does not skip the others.
"""

from __future__ import annotations

from aiohttp import web

from hearing_server import keys
from hearing_server.api.errors import error_middleware
from hearing_server.api.forwarding import forwarding_middleware
from hearing_server.api.livestream import setup_livestream
from hearing_server.api.pages import DEFAULT_WEB_CLIENT_DIR, setup_pages
from hearing_server.api.request_ids import request_id_middleware
from hearing_server.api.routes import setup_routes
from hearing_server.config import Settings
from hearing_server.wiring.agreements import install_agreements
from hearing_server.wiring.board import install_board
from hearing_server.wiring.cluster import install_cluster
from hearing_server.wiring.composite import install_composite
from hearing_server.wiring.evidence import install_evidence
from hearing_server.wiring.exhibit_view import install_exhibit_view
from hearing_server.wiring.face import install_face
from hearing_server.wiring.foundation import install_foundation
from hearing_server.wiring.identity import install_identity
from hearing_server.wiring.jobs import install_jobs
from hearing_server.wiring.limits import install_limits
from hearing_server.wiring.livestream import install_livestream
from hearing_server.wiring.media import install_media
from hearing_server.wiring.metrics import install_metrics
from hearing_server.wiring.overload import install_overload
from hearing_server.wiring.recording import install_recording
from hearing_server.wiring.scheduling import install_scheduling
from hearing_server.wiring.serving import install_serving
from hearing_server.wiring.signaling import install_signaling
from hearing_server.wiring.transcription import install_transcription
from transcription import STT


def create_app(settings: Settings, *, stt_engine: STT | None = None) -> web.Application:
    """Build the application from its settings; nothing starts until the app runs.

    ``stt_engine`` replaces the speech-to-text engine the settings name (tests use an engine
    made slow on purpose); the app owns it either way and closes it on cleanup.
    """
    app = web.Application(
        # the request id covers everything; the relay to a hearing's node answers inside the
        # error middleware
        middlewares=[request_id_middleware, error_middleware, forwarding_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[keys.SETTINGS] = settings
    install_limits(app)  # trusted proxies; rate caps on the routes that check secrets
    install_foundation(app)  # store, tokens, service bus, hearings, presence
    install_identity(app)  # identity checks before the waiting room; the message sender
    install_jobs(app)  # the durable job queue: messages sent later or again, reminders
    install_board(app)  # the clerk's board: today's hearings, alerts
    install_agreements(app)  # mediation agreements: signing authority, timestamps, PDFs
    install_serving(app)  # electronic service on the job queue; receipts sealed by esign
    install_scheduling(app)  # bookings, clashes; reschedules and cancellations served
    install_media(app)  # the SFU
    install_evidence(app)  # the exhibit bundle, presenting (a shared screen is the SFU's)
    install_face(app)  # face match and liveness on the participant's own camera
    install_composite(app)  # the courtroom view (display, recording, livestream)
    install_exhibit_view(app)  # the evidence layout: the presented exhibit in the large tile
    install_transcription(app, engine=stt_engine)  # captions and the transcript
    install_recording(app)  # closes first: finishes and signs while taps still run
    install_livestream(app)  # public hearings' HLS from the composite, delayed, cuttable
    install_overload(app)  # sheds video, then the composite's rate, never audio
    install_cluster(app)  # which node serves which hearing (leases in Redis, or this one)
    install_signaling(app)
    install_metrics(app)  # reads what the features above installed; served at /metrics
    setup_routes(app)
    setup_pages(app, settings.web_client_dir)
    setup_livestream(app, (settings.web_client_dir or DEFAULT_WEB_CLIENT_DIR).resolve())
    return app
