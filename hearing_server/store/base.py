"""The storage interface. SQLite implements it by default (:mod:`.sqlite`), PostgreSQL when a
database URL is set (:mod:`.postgres`).

:class:`Store` is the union of one small protocol per aggregate, each in its own module, so
an implementation can be written (and a consumer typed) one aggregate at a time:

- :class:`~hearing_server.store.lifecycle.StoreLifecycle`: open, close, schema version;
- :class:`~hearing_server.store.hearings.HearingStore`: hearings and their participants;
- :class:`~hearing_server.store.audit.AuditStore`: the audit log;
- :class:`~hearing_server.store.transcript.TranscriptStore`: the transcript chain;
- :class:`~hearing_server.store.tokens.TokenStore`: revoked tokens;
- :class:`~hearing_server.store.identity.IdentityStore`: identity policies, registrations and
  each participant's progress;
- :class:`~hearing_server.store.jobs.JobStore`: the durable job queue;
- :class:`~hearing_server.store.serving.ServingStore`: electronic service (documents served,
  each recipient's delivery);
- :class:`~hearing_server.store.schedule.ScheduleStore`: each hearing's booking (time,
  courtroom, people);
- :class:`~hearing_server.store.slots.SlotStore`: mediators' windows and parties' slot links.
"""

from __future__ import annotations

from typing import Protocol

from .agreements import AgreementStore
from .audit import AuditStore
from .evidence import EvidenceStore
from .hearings import HearingStore
from .identity import IdentityStore
from .jobs import JobStore
from .lifecycle import StoreLifecycle, StoreUnavailable
from .notices import NoticeStore
from .schedule import ScheduleStore
from .serving import ServingStore
from .slots import SlotStore
from .tokens import TokenStore
from .transcript import TRANSCRIPT_FINALISED, TranscriptStore

__all__ = [
    "TRANSCRIPT_FINALISED",
    "AuditStore",
    "EvidenceStore",
    "HearingStore",
    "IdentityStore",
    "JobStore",
    "NoticeStore",
    "ScheduleStore",
    "ServingStore",
    "SlotStore",
    "Store",
    "StoreLifecycle",
    "StoreUnavailable",
    "TokenStore",
    "TranscriptStore",
]


class Store(
    StoreLifecycle,
    HearingStore,
    AuditStore,
    TranscriptStore,
    TokenStore,
    IdentityStore,
    AgreementStore,
    NoticeStore,
    EvidenceStore,
    JobStore,
    ServingStore,
    ScheduleStore,
    SlotStore,
    Protocol,
):
    """Persistence of hearings, participants, the audit log, the transcript, revoked tokens
    identity checks, mediation agreements, notices and evidence.

    Implementations raise :class:`hearing_server.core.errors.NotFound` for missing rows and
    :class:`hearing_server.core.errors.Conflict` for duplicate ids.
    """
