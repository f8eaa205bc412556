"""A stored hearing with participants and a few transcript segments, for record tests."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hearing_server.core.actors import Actor
from hearing_server.core.hearing import Hearing, HearingAction, HearingKind
from hearing_server.core.participant import Participant, Role
from hearing_server.service.transcripts import TranscriptService
from hearing_server.store.base import Store
from transcription.segments import SegmentStatus, TranscriptSegment

T0 = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)
COURT = "北京互联网法院"
CASE = "\uff082026\uff09京0491民初1234号"  # (2026)..., full-width parentheses

SPOKEN = [
    ("p-judge", "Judge Li 李法官", "judge", 0.5, 4.0,
     "Please state your full name for the record."),
    ("p-party", "Zhang San 张三", "party", 5.0, 8.2, "My name is Zhang San & I live in <Beijing>."),
    ("p-witness", "Wang Wu 王五", "witness", 9.0, 12.5, "I saw the car stop outside the door."),
    ("p-party", "Zhang San 张三", "party", 13.0, 15.0, "我同意调解方案。"),
]


@dataclass
class Record:
    store: Store
    service: TranscriptService
    hearing: Hearing
    seqs: list[int]

    def actor(self, pid: str) -> Actor:
        role = {"p-judge": Role.JUDGE, "p-clerk": Role.CLERK, "p-party": Role.PARTY,
                "p-witness": Role.WITNESS, "p-observer": Role.OBSERVER,
                "p-display": Role.COURTROOM_DISPLAY}[pid]
        return Actor(id=pid, role=role, hearing_id=self.hearing.id)

    async def close_hearing(self) -> None:
        h = self.hearing
        for action in (HearingAction.OPEN, HearingAction.START, HearingAction.CLOSE):
            h = h.apply(action, T0 + timedelta(minutes=1))
        await self.store.update_hearing(h)
        self.hearing = h


def segment(hearing_id: str, row: tuple[str, str, str, float, float, str],
            status: SegmentStatus = SegmentStatus.OK) -> TranscriptSegment:
    pid, name, role, start, end, text = row
    return TranscriptSegment(hearing_id, pid, name, role, start, end,
                             T0 + timedelta(seconds=start), text, "faster-whisper:tiny.en",
                             "en", status)


async def make_record(store: Store, kind: HearingKind = HearingKind.HEARING) -> Record:
    """Opens ``store`` (a new one, on an empty database) and fills it."""
    await store.open()
    hearing = Hearing(
        id="h-1", kind=kind, case_number=CASE, court=COURT, title="买卖合同纠纷 Sale of goods",
        scheduled_start=T0, scheduled_end=T0 + timedelta(hours=2),
    )
    hearing = replace(hearing, actual_start=T0)
    await store.create_hearing(hearing)
    people = [
        ("p-judge", Role.JUDGE, "Judge Li 李法官"),
        ("p-clerk", Role.CLERK, "Clerk Zhao 赵书记员"),
        ("p-party", Role.PARTY, "Zhang San 张三"),
        ("p-witness", Role.WITNESS, "Wang Wu 王五"),
        ("p-observer", Role.OBSERVER, "Observer"),
        ("p-display", Role.COURTROOM_DISPLAY, "Courtroom 1"),
    ]
    for pid, role, name in people:
        await store.add_participant(Participant(id=pid, hearing_id=hearing.id, role=role,
                                                display_name=name))
    service = TranscriptService(store, clock=lambda: T0 + timedelta(hours=1))
    seqs = [await service.record_segment(segment(hearing.id, row)) for row in SPOKEN]
    gap = ("p-witness", "Wang Wu 王五", "witness", 16.0, 16.5, "")
    seqs.append(await service.record_segment(
        replace(segment(hearing.id, gap, SegmentStatus.GAP), detail="25 audio frame(s) lost")))
    return Record(store, service, hearing, seqs)
