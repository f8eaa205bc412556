"""Every web.AppKey of the application, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from cluster import Placement, Relay
    from esign import SigningWorker, TimeStampResponder
    from hearing_server.auth.limits import IpNetwork, LoginLimits
    from hearing_server.auth.tokens import TokenService
    from hearing_server.config import Settings
    from hearing_server.media.events import MediaEvent
    from hearing_server.media.load import LoadListener, LoadMonitor
    from hearing_server.media.router import MediaRouter
    from hearing_server.media.taps import Composites
    from hearing_server.metrics import ServerMetrics, TranscriptionLoad
    from hearing_server.service.agreements import AgreementService
    from hearing_server.service.board import BoardService
    from hearing_server.service.events import EventBus, ServiceEvent
    from hearing_server.service.evidence import EvidenceService
    from hearing_server.service.hearings import HearingService
    from hearing_server.service.identity import IdentityService
    from hearing_server.service.identity_gate import IdentityGate
    from hearing_server.service.jobs import JobRunner
    from hearing_server.service.live import LiveHearings
    from hearing_server.service.notices import NoticeService
    from hearing_server.service.presenting import PresentingService
    from hearing_server.service.private_rooms import PrivateRooms
    from hearing_server.service.scheduling import SchedulingService
    from hearing_server.service.serving import ServingService
    from hearing_server.service.serving_records import ServedRecords
    from hearing_server.service.slots import SlotService
    from hearing_server.service.summons import SummonsService
    from hearing_server.service.transcripts import TranscriptService
    from hearing_server.signaling.ports import LivestreamPort, RecordingPort
    from hearing_server.store.base import Store
    from recording import RecordingCatalog

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
TRUSTED_PROXIES: web.AppKey[tuple[IpNetwork, ...]] = web.AppKey("trusted_proxies")
LOGIN_LIMITS: web.AppKey[LoginLimits] = web.AppKey("login_limits")
STORE: web.AppKey[Store] = web.AppKey("store")
TOKENS: web.AppKey[TokenService] = web.AppKey("tokens")
EVENTS: web.AppKey[EventBus[ServiceEvent]] = web.AppKey("events")
HEARINGS: web.AppKey[HearingService] = web.AppKey("hearings")
LIVE: web.AppKey[LiveHearings] = web.AppKey("live")
PRIVATE_ROOMS: web.AppKey[PrivateRooms] = web.AppKey("private_rooms")
NOTICES: web.AppKey[NoticeService] = web.AppKey("notices")
JOBS: web.AppKey[JobRunner] = web.AppKey("jobs")
SERVING: web.AppKey[ServingService] = web.AppKey("serving")
SERVED_RECORDS: web.AppKey[ServedRecords] = web.AppKey("served_records")
SCHEDULING: web.AppKey[SchedulingService] = web.AppKey("scheduling")
SUMMONS: web.AppKey[SummonsService] = web.AppKey("summons")
SLOTS: web.AppKey[SlotService] = web.AppKey("slots")
BOARD: web.AppKey[BoardService] = web.AppKey("board")
EVIDENCE: web.AppKey[EvidenceService] = web.AppKey("evidence")
PRESENTING: web.AppKey[PresentingService] = web.AppKey("presenting")
AGREEMENTS: web.AppKey[AgreementService] = web.AppKey("agreements")
TIMESTAMPS: web.AppKey[TimeStampResponder] = web.AppKey("timestamps")
SIGNING_WORKER: web.AppKey[SigningWorker] = web.AppKey("signing_worker")
MEDIA: web.AppKey[MediaRouter] = web.AppKey("media")
MEDIA_EVENTS: web.AppKey[EventBus[MediaEvent]] = web.AppKey("media_events")
COMPOSITES: web.AppKey[Composites | None] = web.AppKey("composites")
OVERLOAD: web.AppKey[LoadListener] = web.AppKey("overload")
LOAD_MONITOR: web.AppKey[LoadMonitor] = web.AppKey("load_monitor")
PLACEMENT: web.AppKey[Placement] = web.AppKey("placement")
# relays API requests about a hearing to the node serving it (api/forwarding.py)
FORWARDING: web.AppKey[Relay] = web.AppKey("forwarding")
RECORDINGS: web.AppKey[RecordingPort] = web.AppKey("recordings")
LIVESTREAMS: web.AppKey[LivestreamPort] = web.AppKey("livestreams")
RECORDING_CATALOG: web.AppKey[RecordingCatalog] = web.AppKey("recording_catalog")
RECORDING_PUBLIC_KEY: web.AppKey[tuple[str, str]] = web.AppKey("recording_public_key")
TRANSCRIPTS: web.AppKey[TranscriptService] = web.AppKey("transcripts")
TRANSCRIPTION_LOAD: web.AppKey[TranscriptionLoad] = web.AppKey("transcription_load")
METRICS: web.AppKey[ServerMetrics] = web.AppKey("metrics")
METRICS_TOKEN: web.AppKey[str] = web.AppKey("metrics_token")
ADMIN_API_KEY: web.AppKey[str] = web.AppKey("admin_api_key")
IDENTITY_GATE: web.AppKey[IdentityGate] = web.AppKey("identity_gate")
IDENTITY: web.AppKey[IdentityService] = web.AppKey("identity")
