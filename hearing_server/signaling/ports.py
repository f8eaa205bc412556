"""What signaling needs from the media layer and the recorder; create_app() hands them in."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from hearing_server.core.actors import Actor


class MediaPort(Protocol):
    """The SFU as seen by signaling: negotiate a participant's two peer connections."""

    async def publish(self, participant_id: str, offer_sdp: str) -> str:
        """Answer the participant's publish offer; returns the answer SDP."""

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
