"""What signaling needs from the media layer and the recorder; create_app() hands them in."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

from hearing_server.core.actors import Actor


class MediaPort(Protocol):
    """The SFU as seen by signaling: negotiate a participant's two peer connections."""

    async def publish(
        self, participant_id: str, offer_sdp: str, *, screen_mid: str | None = None
    ) -> str:
        """Answer the participant's publish offer; returns the answer SDP. ``screen_mid``
        names a new video section that is a shared screen."""

    async def subscriber_answer(self, participant_id: str, answer_sdp: str, revision: int) -> None:
        """Apply the participant's answer to the server's subscriber offer ``revision``."""

    async def resubscribe(self, participant_id: str, *, restart: bool = False) -> int | None:
        """Send a fresh subscriber offer (after a failed negotiation); its revision."""

    async def remove(self, participant_id: str) -> None:
        """Close the participant's peer connections; their tracks leave every subscriber."""


class RecordingPort(Protocol):
    """Recording as seen by signaling: the judge's controls and the current status."""

    async def control(
        self, actor: Actor, hearing_id: str, action: Literal["start", "pause", "resume", "stop"]
    ) -> dict[str, Any]:
        """Start, pause, resume or stop the hearing's recording; returns the status."""

    def status(self, hearing_id: str) -> dict[str, Any]:
        """``{state, recording_id?}``; state is not_recording, recording, paused, stopping."""

    def last_alert(self, hearing_id: str) -> dict[str, Any] | None:
        """The last ``recording_alert`` since the recording last started (staff only)."""


class LivestreamPort(Protocol):
    """The public livestream as seen by signaling (the judge's controls) and by the public
    HTTP side (playlists and segment files of running streams)."""

    async def control(
        self,
        actor: Actor,
        hearing_id: str,
        action: Literal["start", "cut", "resume", "stop", "allow_replay", "withdraw_replay"],
        delay_seconds: int | None = None,
    ) -> dict[str, Any]:
        """Start, cut, resume or stop the hearing's livestream; returns the status."""

    def status(self, hearing_id: str) -> dict[str, Any]:
        """``{state: not_live | live | cut, delay_seconds?, started_at?, viewers?}``."""

    def playlist(self, hearing_id: str, viewer: str | None = None) -> str | None:
        """The live playlist of a running stream, None when there is nothing to watch."""

    def captions_playlist(self, hearing_id: str) -> str | None:
        """The WebVTT media playlist of a running stream (captions, delayed alike)."""

    def segment_path(self, hearing_id: str, name: str) -> Path | None:
        """The file of a published segment of a running stream, None for anything else."""

    def replay_playlist(self, hearing_id: str) -> str | None:
        """The replay (VOD) of a stopped stream the judge allowed, None otherwise."""

    def replay_path(self, hearing_id: str, name: str) -> Path | None:
        """A segment or WebVTT file listed in the allowed replay, None otherwise."""

    def viewers(self, hearing_id: str) -> int:
        """How many client addresses watch now."""

    def live_hearings(self) -> dict[str, str]:
        """Hearing id -> ``live`` or ``cut`` for every running stream."""
