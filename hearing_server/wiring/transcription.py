"""Live captions and the transcript of each hearing in session.

While a hearing is in session, each participant in the hearing room who publishes audio is
transcribed from their own decoded audio track (decode on demand, shared with the
compositor), so every segment carries its speaker. People in the waiting room or a
consultation room are never transcribed.

Language: the hearing's own (``Hearing.language``: zh-CN, en or auto), else the server's
``transcription_language`` (zh-CN: the courts this is for hold their hearings in Mandarin);
a participant whose ``language`` differs (a bilingual hearing) is recognised in theirs. A
Mandarin hearing's prompt carries the court's vocabulary and the names of its people.

Final segments go into the hash-chained transcript; interim and final captions go to those in
the hearing room (and the courtroom display).

The final pass: a Mandarin segment's audio is kept (under ``<data_dir>/transcription``) and,
once the hearing's live recognition has drained and no hearing is being transcribed, the
same model recognises it again with beam 5 and the preceding text as context; the result is
appended to the chain as a revision (the live text stays there) and the exports read it.
A shutdown cancels a pass under way (its audio is deleted at the next pass of that hearing
or stays for an operator; the live text is the transcript meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Protocol, cast

import numpy as np
from aiohttp import web
from av import AudioFrame

from hearing_server import keys
from hearing_server.core.errors import Conflict, NotFound
from hearing_server.core.hearing import Hearing
from hearing_server.core.participant import Participant, Role, speaker_name
from hearing_server.media.errors import MediaError
from hearing_server.media.events import TrackPublished, TrackUnpublished
from hearing_server.media.taps import DecodedFrame, MediaKind, Tap
from hearing_server.service.background import BackgroundWork
from hearing_server.service.events import (
    CaptionPublished,
    EventBus,
    ServerLoadChanged,
    ServiceEvent,
)
from hearing_server.service.hearings import HearingService
from hearing_server.service.live import LiveHearings
from hearing_server.service.transcripts import TranscriptService
from transcription import (
    STT,
    Caption,
    Decoding,
    HearingClock,
    LanguageRouter,
    PipelineSettings,
    Speaker,
    TranscriptionPipeline,
    TranscriptionSettings,
    create_engine,
)
from transcription.chinese import court_prompt, engine_language, is_chinese
from transcription.final_pass import FinalPass, PassLine, UtteranceStore

from .per_hearing import RUNNING_STATES, PerHearingConsumer

log = logging.getLogger(__name__)


class AudioTaps(Protocol):
    def open_decoded_tap(self, pid: str, kind: MediaKind) -> Tap[DecodedFrame]: ...

    def published_kinds(self, pid: str) -> set[MediaKind]: ...


NOT_NAMED_IN_PROMPT = frozenset({Role.COURTROOM_DISPLAY, Role.OBSERVER})


@dataclass
class _Running:
    pipeline: TranscriptionPipeline
    prompt: str | None = None
    speakers: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class TranscriptionCoordinator(PerHearingConsumer):
    """One per app; owns every hearing's pipeline and closes them on ``close()``."""

    def __init__(
        self,
        *,
        engine: STT,
        transcripts: TranscriptService,
        media: AudioTaps,
        hearings: HearingService,
        live: LiveHearings,
        events: EventBus[ServiceEvent],
        pipeline_settings: PipelineSettings,
        default_language: str = "zh-CN",
        utterances: UtteranceStore | None = None,
        serves: Callable[[str], bool] = lambda hearing_id: True,
    ) -> None:
        """``utterances``: where Mandarin segments' audio waits for the final pass (None:
        no final pass); ``serves``: whether this node serves a hearing."""
        super().__init__(hearings, live, serves)
        self._default_language = default_language
        self._final_pass = (
            FinalPass(engine, utterances, is_idle=self._idle) if utterances is not None else None
        )
        self._final = BackgroundWork("final transcript pass")
        self._engine = engine
        self._transcripts = transcripts
        self._media = media
        self._events = events
        self._settings = pipeline_settings
        self._running: dict[str, _Running] = {}
        # overloaded: interim captions wait (ServerLoadChanged); finals and the transcript not
        self._interims_paused = False
        self._work = BackgroundWork("transcription")

    @property
    def running(self) -> dict[str, _Running]:
        return self._running

    # -- load (the metrics read it) --------------------------------------------------------

    @property
    def transcribed_hearings(self) -> int:
        return len(self._running)

    @property
    def queued_utterances(self) -> int:
        """Utterances waiting for recognition in every hearing's pipeline."""
        return sum(r.pipeline.backlog for r in self._running.values())

    @property
    def pending_recognitions(self) -> int:
        """Recognitions the engine has been given and not finished (the final pass's too)."""
        return self._engine.pending_requests

    def wants(self, event: TrackPublished | TrackUnpublished) -> bool:
        return event.kind == "audio"

    async def on_hearing(self, hearing: Hearing) -> None:
        if hearing.state in RUNNING_STATES and hearing.id not in self._running:
            await self._start(hearing)
        elif hearing.state not in RUNNING_STATES and hearing.id in self._running:
            await self._stop(hearing.id)

    async def _start(self, hearing: Hearing) -> None:
        hid = hearing.id
        await self._work.settle(hid)  # an earlier run of this hearing finishes first

        async def on_caption(caption: Caption) -> None:
            await self._deliver(hid, caption)

        people = await self._hearings.list_participants(hid)
        settings = self.settings_for(hearing, people)
        keep = self._final_pass is not None and is_chinese(settings.language)
        utterances = self._final_pass.utterances if self._final_pass is not None else None

        async def on_audio(seq: int, samples: np.ndarray) -> None:
            assert utterances is not None
            await utterances.put(hid, seq, samples)

        pipeline = TranscriptionPipeline(
            hid,
            self._engine,
            HearingClock(hearing.actual_start),
            on_segment=self._transcripts.record_segment,
            on_caption=on_caption,
            settings=settings,
            on_audio=on_audio if keep else None,
        )
        prompt = settings.decoding.prompt if settings.decoding is not None else None
        pipeline.pause_interims(self._interims_paused)
        self._running[hid] = _Running(pipeline, prompt)
        self._transcripts.begin_recognition(hid)
        await self.sync(hid)

    async def on_service_event(self, event: ServiceEvent) -> None:
        if isinstance(event, ServerLoadChanged):
            # the first thing shed: interim captions cost a recognition a second per speaker
            paused = int(event.status.get("level", 0)) > 0
            if paused != self._interims_paused:
                self._interims_paused = paused
                for running in self._running.values():
                    running.pipeline.pause_interims(paused)
            return
        await super().on_service_event(event)

    def language_of(self, setting: str | None) -> str | None:
        """The engine's language for a hearing or participant language setting; None
        (detect, or the engine's own) when the engine cannot take that language."""
        language = engine_language(setting or self._default_language)
        if not self._engine.capabilities.supports(language):
            log.warning(
                "engine %s has no language %r: it uses its own", self._engine.name, language
            )
            return None
        return language

    def settings_for(self, hearing: Hearing, people: list[Participant]) -> PipelineSettings:
        """The pipeline settings of ``hearing``: its language and, for Mandarin, the prompt
        with the court's vocabulary and its people's names (parties first: they are the
        names the model has never heard)."""
        language = self.language_of(hearing.language)
        if not is_chinese(language):
            return replace(self._settings, language=language)
        named = sorted(
            (p for p in people if p.role not in NOT_NAMED_IN_PROMPT),
            key=lambda p: (p.role is not Role.PARTY, p.role.value),
        )
        prompt = court_prompt((p.display_name for p in named), court=hearing.court)
        return replace(self._settings, language=language, decoding=Decoding(prompt=prompt))

    async def _stop(self, hearing_id: str) -> None:
        running = self._running.pop(hearing_id, None)
        if running is not None:
            # Queued speech may take a while to recognise; the close that ended the hearing
            # must not wait for it. The transcript says pending until the drain is done.
            self._work.start(hearing_id, self._drain(hearing_id, running), what="draining speech")

    async def _drain(self, hearing_id: str, running: _Running) -> None:
        try:
            async with running.lock:
                # Lets queued speech finish so the transcript gets every segment.
                await running.pipeline.aclose()
        finally:
            self._transcripts.end_recognition(hearing_id)
        if self._final_pass is not None and not self._closed:
            self._transcripts.begin_final_pass(hearing_id)
            self._final.start(
                hearing_id,
                self._run_final_pass(hearing_id, running.prompt),
                what="final transcript pass",
            )

    def _idle(self) -> bool:
        """No hearing is being transcribed and the engine has nothing queued: a final pass
        may take the engine for one utterance."""
        return not self._running and self._engine.pending_requests == 0

    async def _run_final_pass(self, hearing_id: str, prompt: str | None) -> None:
        try:
            await self._final_pass_of(hearing_id, prompt)
        finally:
            self._transcripts.end_final_pass(hearing_id)

    async def _final_pass_of(self, hearing_id: str, prompt: str | None) -> None:
        assert self._final_pass is not None
        transcript = await self._transcripts.current(hearing_id)
        lines = [
            PassLine(ln.seq, ln.language, ln.text)
            for ln in transcript.lines
            if ln.status == "ok" and not ln.corrected and is_chinese(ln.language)
        ]

        async def revise(seq: int, text: str, engine: str) -> None:
            try:
                await self._transcripts.revise_segment(hearing_id, seq, text, engine)
            except Conflict:
                # Finalised meanwhile: the judge signed off the text as it was.
                log.info("hearing %s: transcript final before its final pass", hearing_id)

        await self._final_pass.run(hearing_id, lines, prompt=prompt, revise=revise)

    async def _deliver(self, hearing_id: str, caption: Caption) -> None:
        """Captions go to the hearing room only, never to the waiting room."""
        members = await self._live.hearing_room_members(hearing_id)
        await self._events.publish(CaptionPublished(hearing_id, tuple(members), caption.to_json()))

    async def sync(self, hearing_id: str) -> None:
        running = self._running.get(hearing_id)
        if running is None:
            return
        async with running.lock:
            speaking = {
                pid: p
                for pid, p in (await self._live.hearing_room_speakers(hearing_id)).items()
                if "audio" in self._media.published_kinds(pid)
            }
            for pid in running.speakers - set(speaking):
                # Their audio stops now; recognising what they already said may take a while,
                # and the move that took them out of the room must not wait for it.
                self._work.start(
                    hearing_id,
                    running.pipeline.stop_participant(pid),
                    what="finishing a speaker's last words",
                )
                running.speakers.discard(pid)
            for pid, p in speaking.items():
                if pid in running.speakers:
                    continue
                try:
                    tap = self._media.open_decoded_tap(pid, "audio")
                except MediaError as exc:
                    log.info("no audio of %s to transcribe: %s", pid, exc)
                    continue
                running.pipeline.add_participant(
                    cast("AsyncIterator[AudioFrame]", tap),  # an audio tap: AudioFrames only
                    Speaker(pid, await self._speaker_name(p), p.role.value),
                    language=self.language_of(p.language) if p.language else None,
                )
                running.speakers.add(pid)

    async def _speaker_name(self, p: Participant) -> str:
        principal = None
        if p.role is Role.INTERPRETER and p.interprets_for:
            try:
                principal = await self._hearings.store.get_participant(p.interprets_for)
            except NotFound:
                principal = None
        return speaker_name(p, principal)

    async def close(self, grace: float | None = None) -> None:
        """Finish every pipeline (queued speech reaches the transcript); cancel final passes
        (the live text stays the transcript). Idempotent."""
        self._closed = True
        await self._final.close(0)
        for hearing_id in list(self._running):
            try:
                await self._stop(hearing_id)
            except Exception:
                log.exception("closing the transcription of hearing %s failed", hearing_id)
        await self._work.close(grace)


def install_transcription(app: web.Application, *, engine: STT | None = None) -> None:
    """Captions and the transcript, unless ``transcription_enabled`` is off.

    ``engine``: use this engine instead of the one the settings name.
    """
    settings = app[keys.SETTINGS]
    if not settings.transcription_enabled:
        return
    stt_settings = TranscriptionSettings(
        enabled=True,
        engine=settings.transcription_engine,
        model_dir=settings.transcription_model_dir,
        model_sha256=(
            {"model.bin": settings.transcription_model_sha256}
            if settings.transcription_model_sha256
            else None
        ),
        data_dir=settings.data_dir,
    )
    if engine is None:
        engine = create_engine(stt_settings)
    stt = engine
    captions = TranscriptionCoordinator(
        engine=stt,
        transcripts=app[keys.TRANSCRIPTS],
        media=app[keys.MEDIA],
        hearings=app[keys.HEARINGS],
        live=app[keys.LIVE],
        events=app[keys.EVENTS],
        pipeline_settings=stt_settings.pipeline_settings(),
        default_language=settings.transcription_language,
        utterances=UtteranceStore(settings.data_dir / "transcription" / "utterances"),
        # the placement is installed later, on top of the features it places
        serves=lambda hearing_id: app[keys.PLACEMENT].serves(hearing_id),
    )
    app[keys.EVENTS].subscribe(captions.on_service_event)
    app[keys.MEDIA_EVENTS].subscribe(captions.on_media_event)
    app[keys.TRANSCRIPTION_LOAD] = captions

    async def recognition(_: web.Application) -> AsyncIterator[None]:
        # Start the recognizer process of the server's default language and load its model
        # now (Whisper base: joined into the data dir the first time); a model for another
        # language loads at its first utterance.
        default = engine_language(settings.transcription_language)
        await (stt.engine_for(default) if isinstance(stt, LanguageRouter) else stt).prewarm()
        try:
            yield
        finally:
            try:
                await captions.close()  # lets queued speech reach the transcript
            finally:
                await stt.aclose()

    app.cleanup_ctx.append(recognition)
